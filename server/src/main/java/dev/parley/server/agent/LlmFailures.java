package dev.parley.server.agent;

import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.exception.HttpException;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.exception.NonRetriableException;
import dev.langchain4j.exception.RetriableException;
import dev.langchain4j.exception.UnresolvedModelServerException;
import dev.parley.protocol.ErrorCode;
import java.io.IOException;
import java.nio.channels.UnresolvedAddressException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a failure of a language model call into the run's {@code llm_unavailable} error: retryable for rate limits,
 * provider outages and network failures, not retryable for requests the provider refuses (bad key, unknown model,
 * invalid request). The provider's own message goes to the log, never to the client.
 */
final class LlmFailures {
    private static final Logger LOG = LoggerFactory.getLogger(LlmFailures.class);

    private LlmFailures() {
    }

    static AgentException classify(Throwable failure, String provider) {
        if (failure instanceof AgentException decided) {
            return decided; // refused before it went out (the provider is known to be unreachable)
        }
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof LlmStreamError stream) {
                LOG.warn("{} reported an error mid-stream: {} {}", provider, stream.kind(), clip(stream.getMessage()));
                return new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + provider
                        + ") failed while answering (" + stream.kind() + ")"
                        + (stream.retryable() ? "; try again shortly." : "."), stream.retryable(), failure);
            }
            if (t instanceof HttpException http) {
                LOG.warn("{} answered HTTP {}: {}", provider, http.statusCode(), clip(http.getMessage()));
                return byStatus(http.statusCode(), provider, failure);
            }
        }
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof AuthenticationException) {
                return refused(provider, "refused the API key; check PARLEY_LLM_API_KEY", failure);
            }
            if (t instanceof ModelNotFoundException) {
                return refused(provider, "does not know the model; check PARLEY_LLM_MODEL", failure);
            }
            if (t instanceof InvalidRequestException || t instanceof NonRetriableException) {
                return refused(provider, "refused the request", failure);
            }
            if (t instanceof RetriableException || t instanceof IOException || t instanceof UnresolvedAddressException
                    || t instanceof UnresolvedModelServerException || t instanceof java.util.concurrent.TimeoutException) {
                LOG.warn("{} could not be reached: {}", provider, t.toString());
                return new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + provider
                        + ") could not be reached; try again shortly.", true, failure);
            }
        }
        LOG.warn("{} call failed", provider, failure);
        return new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + provider + ") failed.", false, failure);
    }

    static AgentException truncated(String provider) {
        LOG.warn("{} stream ended before the model finished", provider);
        return new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + provider
                + ") stopped before finishing its answer; try again shortly.", true, null);
    }

    private static AgentException byStatus(int status, String provider, Throwable failure) {
        if (status == 401 || status == 403) {
            return refused(provider, "refused the API key (HTTP " + status + "); check PARLEY_LLM_API_KEY", failure);
        }
        if (status == 404) {
            return refused(provider, "does not know the model (HTTP 404); check PARLEY_LLM_MODEL", failure);
        }
        if (status == 408 || status == 429) {
            return new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + provider
                    + ") is rate limited or busy (HTTP " + status + "); try again shortly.", true, failure);
        }
        if (status >= 500) {
            return new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + provider
                    + ") is unavailable (HTTP " + status + "); try again shortly.", true, failure);
        }
        return refused(provider, "refused the request (HTTP " + status + ")", failure);
    }

    private static AgentException refused(String provider, String what, Throwable failure) {
        return new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + provider + ") " + what + ".",
                false, failure);
    }

    private static String clip(String text) {
        if (text == null) {
            return "";
        }
        String flat = text.replaceAll("\\s+", " ");
        return flat.length() <= 300 ? flat : flat.substring(0, 300) + "…";
    }
}
