package dev.parley.server.gateway;

import dev.parley.protocol.ErrorBody;
import dev.parley.protocol.ErrorCode;
import dev.parley.server.failure.Failures;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.ServerResponseHeaders;
import io.helidon.http.Status;
import io.helidon.webserver.http.DirectHandlers;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The answers to requests that fail before routing (a malformed request line, oversized headers, bad framing): the
 * contract's JSON error body with a request id, as every route answers, instead of the web server's empty or HTML
 * body. Helidon closes the connection after each of them.
 *
 * <p>Helidon passes its own message for the failure (the listener's error handling includes it); the message decides
 * only between statuses, it is never sent. A request whose request line could not be parsed at all reaches us as an
 * internal error without a method (Helidon 4.5 lets the {@code IllegalArgumentException} of a method like {@code G@T}
 * escape); that is the client's malformed request, answered 400. On a connection already upgraded to a WebSocket
 * (Helidon 4.5 fails a frame with a reserved opcode this way) the socket is closed with 1002 instead.
 */
final class TransportErrors implements DirectHandler {
    private static final Logger LOG = LoggerFactory.getLogger(TransportErrors.class);
    /** Helidon's message when the headers are over the listener's limit. */
    private static final String HEADERS_TOO_LARGE = "Header size exceeded";
    private static final Status STATUS_431 = Status.create(431, "Request Header Fields Too Large");

    static void addTo(DirectHandlers.Builder handlers) {
        TransportErrors errors = new TransportErrors();
        for (EventType type : EventType.values()) {
            if (type != EventType.FORBIDDEN) {
                handlers.addHandler(type, errors);
            }
        }
    }

    @Override
    public TransportResponse handle(TransportRequest request, EventType eventType, Status defaultStatus,
                                    ServerResponseHeaders responseHeaders, String message) {
        Optional<SocketSession> socket = SocketSession.onThisThread();
        if (socket.isPresent()) {
            // The connection is a WebSocket: an HTTP answer would be garbage in it. The socket is closed with 1002 and
            // the connection ended, so the response built below is never written.
            socket.get().protocolError(message == null ? eventType.name() : message);
        }
        Answer answer = answer(request, eventType, defaultStatus, message);
        String requestId = Failures.newRequestId();
        if (answer.code() == ErrorCode.INTERNAL) {
            LOG.error("request {} {} failed before routing: {} [request_id={}]", request.method(), request.path(),
                    message, requestId);
        } else {
            LOG.info("request refused before routing: {} {} ({}) [request_id={}]", answer.status().code(),
                    answer.code().code(), message, requestId);
        }
        return TransportResponse.builder()
                .status(answer.status())
                .headers(responseHeaders)
                .header(HeaderNames.CONTENT_TYPE, "application/json")
                .header(HeaderNames.CACHE_CONTROL, "no-store")
                .header(HttpEdge.X_REQUEST_ID, requestId)
                .entity(ErrorBody.http(answer.code(), answer.message(), Map.of(), requestId)
                        .getBytes(StandardCharsets.UTF_8))
                .build();
    }

    private record Answer(Status status, ErrorCode code, String message) {
    }

    private static Answer answer(TransportRequest request, EventType eventType, Status status, String message) {
        int code = status.code();
        if (code == 413) {
            return new Answer(status, ErrorCode.MESSAGE_TOO_LARGE, "The request body is over its size limit.");
        }
        if (code == 414) {
            return new Answer(status, ErrorCode.INVALID_REQUEST, "The request line is too long.");
        }
        if (message != null && message.contains(HEADERS_TOO_LARGE)) {
            return new Answer(STATUS_431, ErrorCode.INVALID_REQUEST,
                    "The request's headers are too large.");
        }
        if (code == 505) {
            return new Answer(status, ErrorCode.INVALID_REQUEST, "Only HTTP/1.1 is served.");
        }
        if (code == 501) {
            return new Answer(status, ErrorCode.INVALID_REQUEST, "That transfer encoding is not supported.");
        }
        if (code >= 400 && code < 500) {
            return new Answer(status, ErrorCode.INVALID_REQUEST, "The request is not valid HTTP.");
        }
        if ((eventType == EventType.INTERNAL_ERROR || eventType == EventType.OTHER) && request.method().isEmpty()) {
            return new Answer(Status.BAD_REQUEST_400, ErrorCode.INVALID_REQUEST, "The request line is not valid HTTP.");
        }
        return new Answer(Status.INTERNAL_SERVER_ERROR_500, ErrorCode.INTERNAL, Failures.INTERNAL_MESSAGE);
    }
}
