package dev.parley.server.budget;

/**
 * What a run has reserved: {@code micros} of the user's period {@code periodStart}, under the limit {@code limitMicros}
 * in force when it was taken. A run of a user without a limit takes none.
 *
 * <p>Before it is taken, {@code roomMicros} is what it asks for beyond {@code micros} when the budget has room for
 * it (room for the run's later calls, so that they need no ledger write of their own), and {@code remainingMicros} is
 * unknown (-1); once taken, {@code micros} is what it holds and {@code remainingMicros} the user's remaining right
 * after it was taken or grown (limit − spent − held, never below 0).
 */
public record Hold(String id, String userId, String runId, String periodStart, long micros, long limitMicros,
                   long roomMicros, long remainingMicros) {
    Hold withMicros(long amount) {
        return new Hold(id, userId, runId, periodStart, amount, limitMicros, roomMicros, remainingMicros);
    }

    Hold withLimit(long limit) {
        return new Hold(id, userId, runId, periodStart, micros, limit, roomMicros, remainingMicros);
    }

    /** The hold as taken: {@code amount} held, with {@code remaining} left to the user beside it. */
    Hold taken(long amount, long remaining) {
        return new Hold(id, userId, runId, periodStart, amount, limitMicros, 0, Math.max(0, remaining));
    }
}
