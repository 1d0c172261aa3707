package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.ClientAddress;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.failure.Failure;
import io.helidon.http.HeaderNames;
import io.helidon.http.RequestException;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

/** Request and response helpers shared by the HTTP routes: JSON bodies, bearer authentication, query parameters. */
final class Http {
    private Http() {
    }

    static String requestId(ServerRequest request) {
        return request.context().get(RequestId.class).map(RequestId::value).orElse("none");
    }

    /** Reads the body as a JSON object; an empty body reads as {@code {}}. */
    static ObjectNode jsonBody(ServerRequest request, int maxBytes) {
        String text = bodyText(request, maxBytes);
        if (text.isBlank()) {
            return Json.object();
        }
        return Json.parseObject(text);
    }

    static String bodyText(ServerRequest request, int maxBytes) {
        if (!request.content().hasEntity()) {
            return "";
        }
        long declared = request.headers().contentLength().orElse(-1L);
        if (declared > maxBytes) {
            throw new ProtocolException(ErrorCode.MESSAGE_TOO_LARGE, "The body is over " + maxBytes + " bytes.");
        }
        try (InputStream in = request.content().inputStream()) {
            byte[] bytes = in.readNBytes(maxBytes + 1);
            if (bytes.length > maxBytes) {
                throw new ProtocolException(ErrorCode.MESSAGE_TOO_LARGE, "The body is over " + maxBytes + " bytes.");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (ProtocolException | RequestException e) {
            // A RequestException is the web server's own answer (413 for a chunked body over the limit), which its
            // direct handlers turn into the JSON error body.
            throw e;
        } catch (RuntimeException e) {
            // The web server's entity reader fails on broken framing (a chunk size that is not hex, a chunk shorter
            // than it said) with whatever exception its parser throws. What follows on the connection cannot be
            // trusted to start a request: it is closed after the answer.
            request.context().register(CloseAfterResponse.INSTANCE);
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The request body's framing is not valid.");
        }
    }

    /** Marks a request whose connection must close once it is answered. */
    enum CloseAfterResponse {
        INSTANCE
    }

    static boolean closesAfterResponse(ServerRequest request) {
        return request.context().get(CloseAfterResponse.class).isPresent();
    }

    static Optional<String> bearer(ServerRequest request) {
        Optional<String> header = request.headers().first(HeaderNames.AUTHORIZATION);
        if (header.isEmpty()) {
            return Optional.empty();
        }
        String value = header.get().trim();
        if (value.regionMatches(true, 0, "Bearer ", 0, 7) && value.length() > 7) {
            return Optional.of(value.substring(7).trim());
        }
        throw new ProtocolException(ErrorCode.UNAUTHORIZED, "The Authorization header must be 'Bearer <access token>'.");
    }

    static Principal authenticate(ServerRequest request, TokenVerifier verifier) {
        String token = bearer(request).orElseThrow(() ->
                new ProtocolException(ErrorCode.UNAUTHORIZED, "This route needs an access token (Authorization: Bearer)."));
        return verifier.verifyAccess(token);
    }

    static String requireText(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field '" + field + "' is required.");
        }
        if (!value.isTextual()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field '" + field + "' must be a string.");
        }
        return value.asText();
    }

    static Optional<String> optionalText(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field '" + field + "' must be a string.");
        }
        return Optional.of(value.asText());
    }

    static int queryInt(ServerRequest request, String name, int fallback, int min, int max) {
        Optional<String> raw = request.query().first(name).asOptional();
        if (raw.isEmpty()) {
            return fallback;
        }
        try {
            int value = Integer.parseInt(raw.get());
            if (value < min || value > max) {
                throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                        "The parameter '" + name + "' must be between " + min + " and " + max + ".");
            }
            return value;
        } catch (NumberFormatException e) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The parameter '" + name + "' must be a whole number.");
        }
    }

    static void json(ServerResponse response, int status, Object body) {
        response.status(Status.create(status));
        response.header(HeaderNames.CONTENT_TYPE, "application/json");
        response.header(HeaderNames.CACHE_CONTROL, "no-store");
        response.send(Json.write(body).getBytes(StandardCharsets.UTF_8));
    }

    /** Answers a failure as the contract's JSON error body, with its status and headers. */
    static void error(ServerResponse response, Failure failure) {
        ErrorCode code = failure.code();
        response.status(Status.create(failure.httpStatus()));
        if (code.httpStatus() == 401) {
            response.header(HeaderNames.WWW_AUTHENTICATE, challenge(code));
        }
        Map<String, Object> details = failure.details();
        if (details.get("retry_after_s") instanceof Number seconds) {
            response.header(HeaderNames.RETRY_AFTER, Long.toString(seconds.longValue()));
        } else if (details.get("retry_after_ms") instanceof Number millis) {
            response.header(HeaderNames.RETRY_AFTER, Long.toString(Math.max(1, (millis.longValue() + 999) / 1000)));
        }
        response.header(HeaderNames.CONTENT_TYPE, "application/json");
        response.header(HeaderNames.CACHE_CONTROL, "no-store");
        response.send(dev.parley.protocol.ErrorBody.http(code, failure.message(), details, failure.requestId())
                .getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The challenge every 401 carries (RFC 7235): Bearer, and for a token that was sent but refused, RFC 6750's
     * {@code invalid_token}; the JSON body's code says which refusal it was.
     */
    static String challenge(ErrorCode code) {
        return switch (code) {
            case INVALID_TOKEN, TOKEN_EXPIRED, TOKEN_REVOKED, AUTH_FAILED -> "Bearer realm=\"parley\", error=\"invalid_token\"";
            default -> "Bearer realm=\"parley\"";
        };
    }

    /** The client's address: the socket's peer, or the entry {@code trustedProxyHops} from the end of X-Forwarded-For. */
    static String clientAddress(ServerRequest request, int trustedProxyHops) {
        SocketAddress peer = request.remotePeer().address();
        String socket = peer instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress().getHostAddress()
                : request.remotePeer().host();
        return ClientAddress.resolve(request.headers().values(HeaderNames.X_FORWARDED_FOR), socket, trustedProxyHops);
    }
}
