package dev.parley.server.agent;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.util.Map;

/**
 * A run that failed with a coded error, which becomes its {@code agent_error} event. It states whether its cause
 * passes (a provider that is down or rate limited) or not (a provider that refuses the request), for the codes whose
 * retryability the error table leaves to the cause.
 */
public final class AgentException extends ProtocolException {
    private final boolean transientCause;

    public AgentException(ErrorCode code, String message, boolean transientCause, Throwable cause) {
        super(code, message, Map.of(), cause);
        this.transientCause = transientCause;
    }

    @Override
    public boolean retryable() {
        return code().retryable(transientCause);
    }
}
