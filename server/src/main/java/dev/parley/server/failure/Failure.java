package dev.parley.server.failure;

import dev.parley.protocol.ErrorCode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a failure answers on the wire: its code, the human message, extra fields of the {@code error} object (such as
 * {@code retry_after_ms}), whether sending the same request again may succeed, and the request id that names its log
 * line (null when the answer carries none: a coded refusal on a socket or in a run).
 *
 * <p>{@code retryable} is the error table's: a failure that contradicts its code's row is refused.
 */
public record Failure(ErrorCode code, String message, Map<String, Object> details, boolean retryable,
                      String requestId) {
    public Failure {
        details = Map.copyOf(details);
        if (retryable != code.retryable(retryable)) {
            throw new IllegalArgumentException("The error table says " + code.code() + " is "
                    + (retryable ? "not " : "") + "retryable");
        }
    }

    /** A failure of this code and message, retryable as its row says when no cause is known to pass. */
    public static Failure of(ErrorCode code, String message) {
        return new Failure(code, message, Map.of(), code.retryable(false), null);
    }

    /** The status of an HTTP answer: the table's, or 500 for a code that only exists on a socket. */
    public int httpStatus() {
        return code.httpStatus() == 0 ? 500 : code.httpStatus();
    }

    /** The fields of a socket {@code error} object after its code and message: the details, then the request id. */
    public Map<String, Object> detailsWithRequestId() {
        if (requestId == null) {
            return details;
        }
        Map<String, Object> fields = new LinkedHashMap<>(details);
        fields.put("request_id", requestId);
        return fields;
    }
}
