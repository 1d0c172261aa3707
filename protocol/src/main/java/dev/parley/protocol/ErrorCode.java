package dev.parley.protocol;

import java.util.Locale;
import java.util.Optional;

/**
 * The one error table of the protocol: every coded error that the server can answer, over HTTP, in a socket
 * {@code error} or {@code agent_error} event, or as the reason of a close frame.
 *
 * <p>Each row names its HTTP status (what a route answers), the close code when the error ends a socket, whether
 * sending the same request again may succeed (the {@code retryable} of an {@code agent_error}), and a one-line meaning
 * used as the default human message.
 */
public enum ErrorCode {
    INVALID_JSON(400, 0, Retry.NO, "The body is not valid JSON."),
    INVALID_MESSAGE(400, 0, Retry.NO, "A field is missing or of the wrong kind."),
    INVALID_REQUEST(400, 0, Retry.NO, "The request is not valid."),
    UNKNOWN_TYPE(400, 0, Retry.NO, "The message type is not known."),
    MESSAGE_TOO_LARGE(413, 0, Retry.NO, "A field or message is over its size limit."),
    RATE_LIMITED(429, 0, Retry.YES, "Too many requests; slow down."),
    THREAD_NOT_FOUND(404, 0, Retry.NO, "The thread does not exist."),
    RUN_NOT_FOUND(404, 0, Retry.NO, "The run does not exist."),
    RUN_FINISHED(409, 0, Retry.NO, "The run has already finished."),
    RUN_IN_PROGRESS(409, 0, Retry.NO, "A run is already in progress on this thread."),
    INVALID_TOKEN(401, 0, Retry.NO, "The token is not valid."),
    LLM_UNAVAILABLE(503, 0, Retry.WHEN_TRANSIENT, "The language model is not available."),
    TOOL_FAILED(500, 0, Retry.WHEN_TRANSIENT, "A tool failed."),
    TIMEOUT(504, 0, Retry.YES, "The operation took too long."),
    INTERNAL(500, CloseCodes.INTERNAL, Retry.YES, "Something went wrong on our side."),
    INVALID_CREDENTIALS(401, 0, Retry.NO, "The email or password is wrong."),
    EMAIL_TAKEN(409, 0, Retry.NO, "An account with this email already exists."),
    WEAK_PASSWORD(400, 0, Retry.NO, "The password is too weak."),
    INVALID_EMAIL(400, 0, Retry.NO, "The email address is not valid."),
    REGISTRATION_CLOSED(403, 0, Retry.NO, "This server does not accept new accounts."),
    UNKNOWN_PROVIDER(400, 0, Retry.NO, "No sign-in provider of that name is configured."),
    INVALID_STATE(400, 0, Retry.NO,
            "The sign-in is unknown, expired, already finished or was started in another browser."),
    ACCESS_DENIED(403, 0, Retry.NO, "The sign-in was cancelled at the identity provider."),
    PROVIDER_ERROR(502, 0, Retry.NO, "The identity provider refused or failed the sign-in."),
    INVALID_ID_TOKEN(502, 0, Retry.NO, "The identity provider's answer could not be verified."),
    EMAIL_NOT_VERIFIED(403, 0, Retry.NO, "The identity provider has not verified this email address."),
    INVALID_CODE(400, 0, Retry.NO, "The sign-in code is unknown, expired or already used."),
    UNAUTHORIZED(401, CloseCodes.POLICY_VIOLATION, Retry.NO, "Authentication is required."),
    TOKEN_EXPIRED(401, CloseCodes.POLICY_VIOLATION, Retry.NO, "The token has expired."),
    TOKEN_REVOKED(401, CloseCodes.POLICY_VIOLATION, Retry.NO, "The token has been revoked."),
    AUTH_FAILED(401, CloseCodes.POLICY_VIOLATION, Retry.NO, "Authentication failed."),
    TOO_MANY_ATTEMPTS(429, 0, Retry.YES, "Too many attempts; try again later."),
    TOO_MANY_CONNECTIONS(429, CloseCodes.TRY_AGAIN_LATER, Retry.YES, "Too many open sockets for this user."),
    NOT_FOUND(404, 0, Retry.NO, "Not found."),
    METHOD_NOT_ALLOWED(405, 0, Retry.NO, "This method is not allowed here."),
    UNSUPPORTED_MEDIA_TYPE(415, 0, Retry.NO, "The body must be JSON."),
    FORBIDDEN_ORIGIN(403, 0, Retry.NO, "This origin may not open sockets."),
    UPSTREAM_UNAVAILABLE(503, 0, Retry.YES, "A service this request needs is unavailable."),
    EVENTS_EXPIRED(410, 0, Retry.NO, "The run's events are past retention."),
    APPROVAL_NOT_FOUND(404, 0, Retry.NO, "The approval does not exist."),
    APPROVAL_RESOLVED(409, 0, Retry.NO, "The approval has already been decided, has expired or its run has ended."),
    NOT_READY(503, 0, Retry.YES, "The server is not ready."),
    HEARTBEAT_TIMEOUT(0, CloseCodes.GOING_AWAY, Retry.YES, "No sign of life for three heartbeat intervals."),
    BINARY_NOT_SUPPORTED(0, CloseCodes.UNSUPPORTED_DATA, Retry.NO, "Binary frames are not supported."),
    INVALID_UTF8(0, CloseCodes.INVALID_PAYLOAD, Retry.NO, "A text frame was not valid UTF-8."),
    SERVICE_RESTART(0, CloseCodes.SERVICE_RESTART, Retry.YES, "The server is restarting."),
    SLOW_CONSUMER(0, CloseCodes.TRY_AGAIN_LATER, Retry.YES, "The client did not read its events fast enough."),
    OVERLOADED(503, CloseCodes.TRY_AGAIN_LATER, Retry.YES, "The server is overloaded."),
    BUDGET_EXCEEDED(402, 0, Retry.NO, "The user's spend budget for this period cannot cover the request."),
    FORBIDDEN(403, 0, Retry.NO, "This account may not do that.");

    /** Whether sending the same request again, unchanged, may succeed. */
    public enum Retry {
        /** It may: the failure was a passing state of the server or of a dependency, or a limit that resets. */
        YES,
        /** It fails again: the request, the credentials or the account must change first. */
        NO,
        /**
         * The cause decides: a dependency that is down or rate limited passes, a dependency that refuses the request
         * (a bad key, an unknown model, a tool's own error) does not. Whoever raises the error states its cause.
         */
        WHEN_TRANSIENT
    }

    private final int httpStatus;
    private final int closeCode;
    private final Retry retry;
    private final String meaning;

    ErrorCode(int httpStatus, int closeCode, Retry retry, String meaning) {
        this.httpStatus = httpStatus;
        this.closeCode = closeCode;
        this.retry = retry;
        this.meaning = meaning;
    }

    /** The snake_case code on the wire. */
    public String code() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The HTTP status a route answers with, or 0 when the error only exists on a socket. */
    public int httpStatus() {
        return httpStatus;
    }

    /** The close code when this error ends a socket; 0 when it does not. */
    public int closeCode() {
        return closeCode;
    }

    public Retry retry() {
        return retry;
    }

    /**
     * Whether an error of this code is retryable: the table's answer, or for {@link Retry#WHEN_TRANSIENT} the cause's.
     *
     * @param transientCause whether the cause is known to pass (a dependency down or rate limited); false when the
     *                       raiser does not say
     */
    public boolean retryable(boolean transientCause) {
        return switch (retry) {
            case YES -> true;
            case NO -> false;
            case WHEN_TRANSIENT -> transientCause;
        };
    }

    public boolean fatal() {
        return closeCode != 0;
    }

    public String meaning() {
        return meaning;
    }

    public static Optional<ErrorCode> fromCode(String code) {
        for (ErrorCode value : values()) {
            if (value.code().equals(code)) {
                return Optional.of(value);
            }
        }
        return Optional.empty();
    }
}
