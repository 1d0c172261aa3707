package dev.parley.server.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The login throttle of a single instance: a window per key in a concurrent map, timed by the passed-in clock.
 *
 * <p>The map only holds keys that failed recently. Closed windows are swept out every {@value #SWEEP_EVERY}
 * recorded failures, and when more than {@value #MAX_KEYS} keys are open at once (an attacker cycling through
 * addresses or emails) keys are dropped, in the map's arbitrary order, down to half that: forgetting a few counters is better than running out of heap,
 * and the per-account and per-address limits still hold for the keys that remain.
 */
public final class InMemoryLoginThrottle implements LoginThrottle {
    static final int MAX_KEYS = 100_000;
    private static final int SWEEP_EVERY = 1024;

    private record Window(Instant closes, int failures) {
    }

    private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();
    private final AtomicLong recorded = new AtomicLong();
    private final Clock clock;

    public InMemoryLoginThrottle(Clock clock) {
        this.clock = clock;
    }

    @Override
    public Optional<Duration> retryAfter(String key, Limit limit) {
        Window window = windows.get(key);
        Instant now = clock.instant();
        if (window == null || !now.isBefore(window.closes()) || window.failures() < limit.maxFailures()) {
            return Optional.empty();
        }
        return Optional.of(Duration.between(now, window.closes()));
    }

    @Override
    public void recordFailure(String key, Limit limit) {
        Instant now = clock.instant();
        windows.compute(key, (k, window) -> window == null || !now.isBefore(window.closes())
                ? new Window(now.plus(limit.window()), 1)
                : new Window(window.closes(), window.failures() + 1));
        if (recorded.incrementAndGet() % SWEEP_EVERY == 0 || windows.size() > MAX_KEYS) {
            sweep(now);
        }
    }

    @Override
    public void reset(String key) {
        windows.remove(key);
    }

    /** How many keys are held; for tests. */
    int size() {
        return windows.size();
    }

    private void sweep(Instant now) {
        windows.values().removeIf(window -> !now.isBefore(window.closes()));
        if (windows.size() <= MAX_KEYS) {
            return;
        }
        var keys = windows.keySet().iterator();
        while (windows.size() > MAX_KEYS / 2 && keys.hasNext()) {
            keys.next();
            keys.remove();
        }
    }
}
