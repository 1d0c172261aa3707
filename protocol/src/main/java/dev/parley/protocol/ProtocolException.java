package dev.parley.protocol;

import java.util.Map;

/**
 * A refusal with a code from the {@link ErrorCode} table: the client's mistake or a dependency that is down.
 * The edge turns it into an HTTP error body, a socket {@code error} event or a close frame.
 */
public class ProtocolException extends RuntimeException {
    private final ErrorCode code;
    private final Map<String, Object> details;

    public ProtocolException(ErrorCode code, String message) {
        this(code, message, Map.of(), null);
    }

    public ProtocolException(ErrorCode code, String message, Map<String, Object> details) {
        this(code, message, details, null);
    }

    public ProtocolException(ErrorCode code, String message, Map<String, Object> details, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.details = Map.copyOf(details);
    }

    public ErrorCode code() {
        return code;
    }

    /**
     * Whether sending the same request again may succeed, as the error table says for this code; a code whose cause
     * decides ({@link ErrorCode.Retry#WHEN_TRANSIENT}) is not retryable unless a subclass states a passing cause.
     */
    public boolean retryable() {
        return code.retryable(false);
    }

    /** Extra fields carried inside the wire {@code error} object, such as {@code retry_after_ms}. */
    public Map<String, Object> details() {
        return details;
    }
}
