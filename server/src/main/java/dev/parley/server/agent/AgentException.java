package dev.parley.server.agent;

import dev.parley.protocol.ErrorCode;

/** A run that failed with a coded error, which becomes its {@code agent_error} event. */
public final class AgentException extends RuntimeException {
    private final ErrorCode code;
    private final boolean retryable;

    public AgentException(ErrorCode code, String message, boolean retryable, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.retryable = retryable;
    }

    public ErrorCode code() {
        return code;
    }

    public boolean retryable() {
        return retryable;
    }
}
