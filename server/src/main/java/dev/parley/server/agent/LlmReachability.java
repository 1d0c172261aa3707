package dev.parley.server.agent;

import dev.langchain4j.exception.HttpException;
import dev.parley.protocol.ErrorCode;
import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the model provider is known to be unreachable: one signal for every run of this instance, so that while
 * the provider refuses connections, answers 5xx or goes silent, a run's call fails at once with {@code
 * llm_unavailable} (retryable) instead of each run waiting out its own timeouts.
 *
 * <p>A call that cannot reach the provider marks it down for {@link #COOL_DOWN}; after that, one call is let through
 * as a trial while the others are still refused: its answer marks the provider up, its failure starts another cool
 * down. A provider that answers, even with a refusal of the request (4xx), is up. Thread-safe.
 */
final class LlmReachability {
    static final Duration COOL_DOWN = Duration.ofSeconds(2);
    private static final Logger LOG = LoggerFactory.getLogger(LlmReachability.class);

    private final String label;
    private final Duration coolDown;
    private volatile boolean down;
    private volatile long coolUntilNanos;
    private final AtomicBoolean trialOut = new AtomicBoolean();
    private final AtomicLong refused = new AtomicLong();

    LlmReachability(String label) {
        this(label, COOL_DOWN);
    }

    LlmReachability(String label, Duration coolDown) {
        this.label = label;
        this.coolDown = coolDown;
    }

    boolean isDown() {
        return down;
    }

    /** Calls refused at once because the provider was known to be unreachable. */
    long refusedCalls() {
        return refused.get();
    }

    /**
     * Before a call: returns when it may go out (the provider is up, or this call is the trial after a cool down),
     * and throws {@code llm_unavailable} otherwise.
     */
    void beforeCall() {
        if (!down) {
            return;
        }
        if (System.nanoTime() - coolUntilNanos >= 0 && trialOut.compareAndSet(false, true)) {
            return;
        }
        refused.incrementAndGet();
        throw new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + label
                + ") is not reachable; try again shortly.", true, null);
    }

    /** The provider answered (response headers arrived, whatever their status below 500). */
    void answered() {
        trialOut.set(false);
        if (down) {
            down = false;
            LOG.info("{} answers again; calls go out again", label);
        }
    }

    /** A call failed; the provider is marked down when the failure says it could not be reached. */
    void failed(Throwable failure) {
        if (!unreachable(failure)) {
            if (providerAnswered(failure)) {
                answered();
            } else {
                trialOut.set(false); // stopped, or failed here: the trial told nothing
            }
            return;
        }
        coolUntilNanos = System.nanoTime() + coolDown.toNanos();
        trialOut.set(false);
        if (!down) {
            down = true;
            LOG.warn("{} is not reachable ({}); calls are refused at once, one trial every {} ms", label,
                    failure.getClass().getSimpleName(), coolDown.toMillis());
        }
    }

    /** The provider answered the call, with a refusal of the request (4xx) or an error inside its stream. */
    private static boolean providerAnswered(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof HttpException || t instanceof LlmStreamError) {
                return true;
            }
        }
        return false;
    }

    /** Connection failures, timeouts and the provider's own 5xx; not a refusal of the request, nor a stop. */
    static boolean unreachable(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof HttpException http) {
                return http.statusCode() >= 500;
            }
            if (t instanceof HttpTimeoutException || t instanceof TimeoutException || t instanceof IOException
                    || t instanceof UnresolvedAddressException) {
                return true;
            }
        }
        return false;
    }
}
