package dev.parley.server.failure;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import org.slf4j.Logger;

/**
 * The one translation of failures into what the client is told, used by the HTTP edge, the socket and the runs: a
 * coded failure ({@link ProtocolException}, which the agent's failures are too) answers its code, message, details and
 * the error table's {@code retryable}; anything else is our own bug, logged once at ERROR with a request id and
 * answered {@code internal} with that id, so that a report quoting it finds the stack trace. Also the one source of
 * request ids. Stateless and thread-safe.
 */
public final class Failures {
    /** The message of every {@code internal} answer: the details are in the log line its request id names. */
    public static final String INTERNAL_MESSAGE =
            "Something went wrong on our side; quote the request id if you report it.";
    private static final SecureRandom RANDOM = new SecureRandom();

    private Failures() {
    }

    /** A new request id: 16 hex digits, random, for one HTTP request, socket message, frame or run failure. */
    public static String newRequestId() {
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /**
     * The answer to {@code failure}.
     *
     * @param requestId the id the answer carries (an HTTP request's), or null when only an {@code internal} answer
     *                  carries one, which is then new
     * @param log       the logger of the part that met the failure
     * @param subject   what failed, for the log line: "{subject} failed [request_id=…]"
     */
    public static Failure translate(Throwable failure, String requestId, Logger log, String subject) {
        if (failure instanceof ProtocolException coded) {
            return coded(coded, requestId);
        }
        return internal(failure, requestId, log, subject);
    }

    /** The answer to a coded failure: its code, message and details, retryable as the error table says. */
    public static Failure coded(ProtocolException failure, String requestId) {
        return new Failure(failure.code(), failure.getMessage(), failure.details(), failure.retryable(), requestId);
    }

    /** The {@code internal} answer to a failure that no layer answered, whatever it is; logged with its request id. */
    public static Failure internal(Throwable failure, String requestId, Logger log, String subject) {
        String id = requestId != null ? requestId : newRequestId();
        log.error("{} failed [request_id={}]", subject, id, failure);
        return new Failure(ErrorCode.INTERNAL, INTERNAL_MESSAGE, Map.of(), ErrorCode.INTERNAL.retryable(false), id);
    }
}
