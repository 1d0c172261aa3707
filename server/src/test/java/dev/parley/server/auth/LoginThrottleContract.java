package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link LoginThrottle} does, whatever holds its counters. An implementation's test extends this class
 * and builds the throttle on the given clock.
 */
abstract class LoginThrottleContract {
    static final LoginThrottle.Limit THREE_PER_MINUTE = new LoginThrottle.Limit(3, Duration.ofMinutes(1));

    protected final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    private LoginThrottle throttle;
    private String key;

    protected abstract LoginThrottle create(MutableClock clock);

    @BeforeEach
    void setUp() {
        throttle = create(clock);
        key = "account:" + UUID.randomUUID() + "@example.org";
    }

    @Test
    void keyMayTryUntilItReachesTheLimit() {
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
        throttle.recordFailure(key, THREE_PER_MINUTE);
        throttle.recordFailure(key, THREE_PER_MINUTE);
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
        throttle.recordFailure(key, THREE_PER_MINUTE);
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).contains(Duration.ofMinutes(1));
    }

    @Test
    void blockLastsUntilTheWindowThatOpenedAtTheFirstFailureCloses() {
        throttle.recordFailure(key, THREE_PER_MINUTE);
        clock.advance(Duration.ofSeconds(20));
        throttle.recordFailure(key, THREE_PER_MINUTE);
        throttle.recordFailure(key, THREE_PER_MINUTE);
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).contains(Duration.ofSeconds(40));
        clock.advance(Duration.ofSeconds(39));
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).contains(Duration.ofSeconds(1));
        clock.advance(Duration.ofSeconds(1));
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
    }

    @Test
    void aClosedWindowStartsCountingAfresh() {
        for (int i = 0; i < 3; i++) {
            throttle.recordFailure(key, THREE_PER_MINUTE);
        }
        clock.advance(Duration.ofMinutes(1));
        throttle.recordFailure(key, THREE_PER_MINUTE);
        throttle.recordFailure(key, THREE_PER_MINUTE);
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
    }

    @Test
    void resetForgetsTheFailures() {
        for (int i = 0; i < 3; i++) {
            throttle.recordFailure(key, THREE_PER_MINUTE);
        }
        throttle.reset(key);
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
        throttle.recordFailure(key, THREE_PER_MINUTE);
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
    }

    @Test
    void keysAreCountedApart() {
        for (int i = 0; i < 3; i++) {
            throttle.recordFailure(key, THREE_PER_MINUTE);
        }
        assertThat(throttle.retryAfter(key + "-other", THREE_PER_MINUTE)).isEmpty();
    }
}
