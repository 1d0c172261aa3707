package dev.parley.cli.validate;

import java.util.List;
import java.util.Map;

/**
 * What one check found: its result, how long it took, the figures it measured (in the order measured, units in the
 * names), and for a failure each expectation that was not met with what came back instead.
 */
record CheckResult(String id, Status status, long durationMs, Map<String, Object> measured, List<Mismatch> mismatches,
                   String reason, SkipCause skipCause) {

    enum Status {
        PASS, FAIL, SKIP;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** One expectation of the contract that the server did not meet. */
    record Mismatch(String expected, String actual) {
    }

    /**
     * Why a check was skipped: because the options asked for it (does not change the exit code), or because a check
     * it needs did not pass (that one failed, so the run fails anyway).
     */
    enum SkipCause {
        REQUESTED, BLOCKED
    }

    static CheckResult skipped(String id, SkipCause cause, String reason) {
        return new CheckResult(id, Status.SKIP, 0, Map.of(), List.of(), reason, cause);
    }

    static CheckResult finished(String id, long durationMs, Map<String, Object> measured, List<Mismatch> mismatches) {
        return new CheckResult(id, mismatches.isEmpty() ? Status.PASS : Status.FAIL, durationMs, measured, mismatches,
                null, null);
    }

    boolean passed() {
        return status == Status.PASS;
    }

    boolean failed() {
        return status == Status.FAIL;
    }
}
