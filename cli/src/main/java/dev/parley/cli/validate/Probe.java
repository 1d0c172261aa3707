package dev.parley.cli.validate;

import dev.parley.client.ApiResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The recorder a check writes to while it runs: measured figures and unmet expectations. A check keeps going after a
 * mismatch where later steps still tell something ({@link #expect}), and stops where they cannot ({@link #fail}).
 * Owned by the one thread that runs the check, except where a check says otherwise.
 */
final class Probe {
    /** Ends a check early; its mismatch is already recorded. */
    static final class Stop extends RuntimeException {
        Stop() {
            super(null, null, false, false);
        }
    }

    private final Map<String, Object> measured = new LinkedHashMap<>();
    private final List<CheckResult.Mismatch> mismatches = new ArrayList<>();

    /** Records a figure; the name carries its unit ({@code connect_ms}). Numbers, text and booleans only. */
    synchronized void measure(String name, Object value) {
        if (value != null) {
            measured.put(name, value);
        }
    }

    /** Records how long an HTTP answer took ({@code http_ms}) and its status ({@code http_status}). */
    void measureAnswer(ApiResponse answer) {
        measure("http_ms", answer.elapsed().toMillis());
        measure("http_status", answer.status());
    }

    synchronized void expect(boolean met, String expected, Supplier<String> actual) {
        if (!met) {
            mismatches.add(new CheckResult.Mismatch(expected, actual.get()));
        }
    }

    synchronized void mismatch(String expected, String actual) {
        mismatches.add(new CheckResult.Mismatch(expected, actual));
    }

    /** Records the mismatch and ends the check. */
    Stop fail(String expected, String actual) {
        mismatch(expected, actual);
        return new Stop();
    }

    /** Ends the check if anything was found wrong so far. */
    void stopIfFailed() {
        if (failed()) {
            throw new Stop();
        }
    }

    synchronized boolean failed() {
        return !mismatches.isEmpty();
    }

    synchronized Map<String, Object> measured() {
        return new LinkedHashMap<>(measured);
    }

    synchronized List<CheckResult.Mismatch> mismatches() {
        return List.copyOf(mismatches);
    }
}
