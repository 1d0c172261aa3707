package dev.parley.server.budget;

/**
 * What one LLM call of a run has reserved: {@code micros} of the user's period {@code periodStart}, under the limit
 * {@code limitMicros} in force when it was taken. A hold whose {@code id} is null tracks nothing: the user has no
 * limit, and its calls cost no ledger writes.
 */
public record Hold(String id, String userId, String runId, String periodStart, long micros, Long limitMicros) {
    static Hold untracked(String userId, String runId) {
        return new Hold(null, userId, runId, null, 0, null);
    }

    public boolean tracked() {
        return id != null;
    }

    Hold withMicros(long amount) {
        return new Hold(id, userId, runId, periodStart, amount, limitMicros);
    }

    Hold withLimit(long limit) {
        return new Hold(id, userId, runId, periodStart, micros, limit);
    }
}
