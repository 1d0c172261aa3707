package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.redis.RedisConnections;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestRedis;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The login throttle contract on Redis, and what sharing adds: failures on several instances count against one
 * window, and while Redis is unreachable each instance still throttles alone. Needs {@code PARLEY_TEST_REDIS_URL}.
 */
class RedisLoginThrottleTest extends LoginThrottleContract {
    private final String prefix = TestRedis.freshPrefix();
    private final List<AutoCloseable> resources = new ArrayList<>();

    @Override
    protected LoginThrottle create(MutableClock clock) {
        return new RedisLoginThrottle(connect(TestRedis.url()), clock);
    }

    private RedisConnections connect(URI url) {
        RedisConnections redis = TestRedis.connect(url, prefix, clock);
        resources.add(redis);
        return redis;
    }

    @AfterEach
    void closeConnections() throws Exception {
        for (AutoCloseable resource : resources.reversed()) {
            resource.close();
        }
    }

    @Test
    void failuresOnEveryInstanceCountAgainstOneWindow() {
        LoginThrottle a = new RedisLoginThrottle(connect(TestRedis.url()), clock);
        LoginThrottle b = new RedisLoginThrottle(connect(TestRedis.url()), clock);
        String key = "account:" + UUID.randomUUID() + "@example.org";
        a.recordFailure(key, THREE_PER_MINUTE);
        b.recordFailure(key, THREE_PER_MINUTE);
        assertThat(a.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
        a.recordFailure(key, THREE_PER_MINUTE);
        assertThat(b.retryAfter(key, THREE_PER_MINUTE)).contains(Duration.ofMinutes(1));
        b.reset(key);
        assertThat(a.retryAfter(key, THREE_PER_MINUTE)).isEmpty();
    }

    @Test
    void whileRedisIsUnreachableAnInstanceStillThrottlesAlone() {
        URI url = TestRedis.url();
        TcpProxy proxy = TcpProxy.to(url.getHost(), url.getPort());
        resources.add(proxy);
        RedisConnections redis = connect(URI.create("redis://127.0.0.1:" + proxy.port()));
        LoginThrottle throttle = new RedisLoginThrottle(redis, clock);
        proxy.cut();
        Await.until("Redis seen down", Duration.ofSeconds(10), () -> !redis.isUp());
        String key = "address:" + UUID.randomUUID();
        for (int i = 0; i < 3; i++) {
            throttle.recordFailure(key, THREE_PER_MINUTE);
        }
        assertThat(throttle.retryAfter(key, THREE_PER_MINUTE)).contains(Duration.ofMinutes(1));
    }
}
