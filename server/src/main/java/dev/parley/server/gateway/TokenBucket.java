package dev.parley.server.gateway;

import java.time.Clock;
import java.time.Duration;

/**
 * The per-socket message rate limit: a bucket of {@code burst} tokens refilled at {@code messages} per
 * {@code window}; each client message takes one. Time comes from the passed-in clock. Used by the socket's reader
 * thread only, so it needs no locking.
 */
final class TokenBucket {
    private final Clock clock;
    private final double capacity;
    private final double tokensPerMilli;
    private double tokens;
    private long lastRefillMillis;

    TokenBucket(Clock clock, int messages, Duration window, int burst) {
        this.clock = clock;
        this.capacity = burst;
        this.tokensPerMilli = (double) messages / Math.max(1, window.toMillis());
        this.tokens = burst;
        this.lastRefillMillis = clock.millis();
    }

    /** Takes a token; returns 0 when one was available, or how many milliseconds until one is. */
    long tryTake() {
        long now = clock.millis();
        if (now > lastRefillMillis) {
            tokens = Math.min(capacity, tokens + (now - lastRefillMillis) * tokensPerMilli);
            lastRefillMillis = now;
        }
        if (tokens >= 1) {
            tokens -= 1;
            return 0;
        }
        return Math.max(1, (long) Math.ceil((1 - tokens) / tokensPerMilli));
    }
}
