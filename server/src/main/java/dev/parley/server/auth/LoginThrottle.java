package dev.parley.server.auth;

import java.time.Duration;
import java.util.Optional;

/**
 * Counts failed sign-ins per key (an account, a client address) and says when a key has had too many.
 *
 * <p>Each key has a fixed window that opens at its first failure and lasts {@link Limit#window()}; once
 * {@link Limit#maxFailures()} failures fall in it, the key is blocked until the window closes, and then starts
 * afresh. This is what a shared store can do in one atomic step (Redis: {@code INCR} plus {@code PEXPIRE} on the
 * first failure, {@code PTTL} for the wait), so the in-memory and shared implementations behave alike.
 */
public interface LoginThrottle {
    /** How many failures a key may have in how long. */
    record Limit(int maxFailures, Duration window) {
        public Limit {
            if (maxFailures < 1 || window.isNegative() || window.isZero()) {
                throw new IllegalArgumentException("a login limit needs at least one attempt and a positive window");
            }
        }
    }

    /** How long the key must still wait before it may try again; empty when it may try now. */
    Optional<Duration> retryAfter(String key, Limit limit);

    /** Counts one failure against the key. */
    void recordFailure(String key, Limit limit);

    /** Forgets the key's failures (after a successful sign-in). */
    void reset(String key);

    /** A wait in whole seconds, rounded up and at least one: what {@code Retry-After} and {@code retry_after_s} say. */
    static long seconds(Duration wait) {
        return Math.max(1, (wait.toMillis() + 999) / 1000);
    }
}
