package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.MutableClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class InMemoryLoginThrottleTest extends LoginThrottleContract {
    @Override
    protected LoginThrottle create(MutableClock clock) {
        return new InMemoryLoginThrottle(clock);
    }

    @Test
    void closedWindowsAreSweptAndTheMapStaysBounded() {
        InMemoryLoginThrottle throttle = new InMemoryLoginThrottle(clock);
        for (int i = 0; i < 2048; i++) {
            throttle.recordFailure("address:10.0.0." + i, THREE_PER_MINUTE);
        }
        clock.advance(Duration.ofMinutes(2));
        for (int i = 0; i < 1024; i++) {
            throttle.recordFailure("address:10.1.0." + i, THREE_PER_MINUTE);
        }
        assertThat(throttle.size()).isEqualTo(1024);

        for (int i = 0; i <= InMemoryLoginThrottle.MAX_KEYS; i++) {
            throttle.recordFailure("account:" + i, THREE_PER_MINUTE);
        }
        assertThat(throttle.size()).isLessThanOrEqualTo(InMemoryLoginThrottle.MAX_KEYS);
    }
}
