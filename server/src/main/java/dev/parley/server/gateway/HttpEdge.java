package dev.parley.server.gateway;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.failure.Failure;
import dev.parley.server.failure.Failures;
import dev.parley.server.observe.Metrics;
import dev.parley.server.observe.ThrottledWarning;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.HttpException;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Where exceptions thrown by the routes become HTTP error bodies (through {@link Failures}, as on the socket and in
 * runs), plus the request filter that hands out request ids and records request counts and latencies.
 */
final class HttpEdge {
    private static final Logger LOG = LoggerFactory.getLogger(HttpEdge.class);
    /** While a dependency is down every request fails the same way: one line per 10 s says so, with the count. */
    private static final ThrottledWarning UNAVAILABLE = new ThrottledWarning(LOG,
            "requests failed: a dependency is unavailable", Duration.ofSeconds(10));

    static final HeaderName X_REQUEST_ID = HeaderNames.create("X-Request-Id");

    private final Metrics metrics;

    HttpEdge(Metrics metrics) {
        this.metrics = metrics;
    }

    void install(HttpRouting.Builder routing) {
        routing.addFilter(this::filter);
        routing.error(ProtocolException.class, this::protocolError);
        routing.error(HttpException.class, this::httpError);
        routing.error(Throwable.class, this::unexpected);
    }

    private void filter(FilterChain chain, RoutingRequest request, RoutingResponse response) {
        RequestId id = request.headers().first(X_REQUEST_ID)
                .filter(value -> value.matches("[A-Za-z0-9._-]{1,64}"))
                .map(RequestId::new)
                .orElseGet(() -> new RequestId(Failures.newRequestId()));
        request.context().register(id);
        response.header(X_REQUEST_ID, id.value());
        MDC.put("request_id", id.value());
        long started = System.nanoTime();
        try {
            chain.proceed();
        } finally {
            String route = request.matchingPattern().orElse("unmatched");
            String method = methodLabel(request.prologue().method().text());
            String status = Integer.toString(response.status().code());
            metrics.increment("parley_http_requests_total", "HTTP requests served.",
                    "method", method, "route", route, "status", status);
            metrics.observeSeconds("parley_http_request_seconds", "HTTP request latency.",
                    (System.nanoTime() - started) / 1e9, "method", method, "route", route);
            MDC.remove("request_id");
        }
        // The response says "Connection: close" (RFC 9112 §9.6: the server closes after it), but Helidon 4.5 goes
        // on reading requests from the connection. Ending the connection loop here closes it.
        if (response.isSent() && (request.headers().containsToken(HeaderValues.CONNECTION_CLOSE)
                || response.headers().containsToken(HeaderValues.CONNECTION_CLOSE))) {
            throw new CloseConnectionException("the client asked to close the connection");
        }
    }

    /** The method as a metric label: a client may send any token as a method, and each would be a new series. */
    static String methodLabel(String method) {
        return switch (method) {
            case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" -> method;
            default -> "other";
        };
    }

    private void protocolError(ServerRequest request, ServerResponse response, ProtocolException e) {
        if (e.code() == ErrorCode.UPSTREAM_UNAVAILABLE) {
            UNAVAILABLE.warn(request.prologue().method().text() + " " + request.path().path() + ": "
                    + (e.getCause() == null ? e.getMessage() : e.getCause().toString()));
        }
        if (Http.closesAfterResponse(request)) {
            response.header(HeaderValues.CONNECTION_CLOSE);
        }
        Http.error(response, Failures.translate(e, Http.requestId(request), LOG, subject(request)));
    }

    private void httpError(ServerRequest request, ServerResponse response, HttpException e) {
        int status = e.status().code();
        ErrorCode code = switch (status) {
            case 404 -> ErrorCode.NOT_FOUND;
            case 405 -> ErrorCode.METHOD_NOT_ALLOWED;
            case 413 -> ErrorCode.MESSAGE_TOO_LARGE;
            case 415 -> ErrorCode.UNSUPPORTED_MEDIA_TYPE;
            case 401 -> ErrorCode.UNAUTHORIZED;
            default -> status < 500 ? ErrorCode.INVALID_REQUEST : ErrorCode.INTERNAL;
        };
        String requestId = Http.requestId(request);
        Http.error(response, code == ErrorCode.INTERNAL
                ? Failures.internal(e, requestId, LOG, subject(request))
                : new Failure(code, code.meaning(), Map.of(), code.retryable(false), requestId));
    }

    private void unexpected(ServerRequest request, ServerResponse response, Throwable e) {
        Http.error(response, Failures.translate(e, Http.requestId(request), LOG, subject(request)));
    }

    private static String subject(ServerRequest request) {
        return "request " + request.prologue().method().text() + " " + request.path().path();
    }
}
