package dev.parley.server.agent;

/**
 * A remote tool call that failed: {@code reason} is the short word the {@code tool_completed} result carries as
 * {@code error} ({@code timeout}, {@code mcp_unavailable}, {@code tool_error}); the message says what happened, in
 * words that may be shown to the user and the model (no credential, no stack).
 */
public final class RemoteToolException extends RuntimeException {
    private final String reason;

    public RemoteToolException(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    public RemoteToolException(String reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
