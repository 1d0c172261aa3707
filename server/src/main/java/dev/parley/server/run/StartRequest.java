package dev.parley.server.run;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Optional;

/**
 * What a client asks a run to do: the user's text, the thread to add it to (null: a new thread), and the free-form
 * {@code context} and {@code settings} objects of {@code start_agent} (null when absent).
 */
public record StartRequest(String threadId, String userRequest, JsonNode context, JsonNode settings) {
    /** The largest {@code settings.step_delay_ms} a client may ask for. */
    public static final long MAX_STEP_DELAY_MS = 5_000;

    /** {@code settings.step_delay_ms}, when the client gave one (the gateway has checked its range). */
    public Optional<Duration> stepDelay() {
        if (settings == null || !settings.hasNonNull("step_delay_ms")) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofMillis(settings.get("step_delay_ms").asLong()));
    }
}
