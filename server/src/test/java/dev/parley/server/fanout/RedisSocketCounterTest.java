package dev.parley.server.fanout;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.redis.RedisConnections;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestRedis;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Socket counts across instances: the limit holds across them, a released socket frees its slot everywhere, an
 * instance that stops (or whose heartbeat ran out) stops counting, and an instance cut off from Redis counts alone
 * and writes its sockets back when Redis returns. Needs {@code PARLEY_TEST_REDIS_URL}.
 */
class RedisSocketCounterTest {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final String prefix = TestRedis.freshPrefix();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

    private RedisConnections connect(URI url) {
        RedisConnections redis = TestRedis.connect(url, prefix, Clock.systemUTC());
        resources.add(redis);
        return redis;
    }

    private RedisSocketCounter counter(RedisConnections redis) {
        RedisSocketCounter counter = new RedisSocketCounter(redis, scheduler);
        resources.add(counter);
        return counter;
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable resource : resources.reversed()) {
            resource.close();
        }
        scheduler.shutdownNow();
    }

    @Test
    void theLimitHoldsAcrossInstancesAndAReleaseFreesTheSlotEverywhere() {
        RedisSocketCounter a = counter(connect(TestRedis.url()));
        RedisSocketCounter b = counter(connect(TestRedis.url()));
        String user = UUID.randomUUID().toString();
        assertThat(a.tryAcquire(user, "a1", 3)).isTrue();
        assertThat(b.tryAcquire(user, "b1", 3)).isTrue();
        assertThat(a.tryAcquire(user, "a2", 3)).isTrue();
        assertThat(b.tryAcquire(user, "b2", 3)).isFalse();
        assertThat(a.count(user)).isEqualTo(3);
        assertThat(a.tryAcquire(user, "a2", 3)).as("counting the same socket again").isTrue();
        a.release(user, "a1");
        Await.until("the release is seen on b", WAIT, () -> b.count(user) == 2);
        assertThat(b.tryAcquire(user, "b2", 3)).isTrue();
        assertThat(b.localCount(user)).isEqualTo(2);
        assertThat(a.count(user + "-other")).isZero();
    }

    @Test
    void anInstanceThatStopsOrStopsHeartbeatingStopsCounting() {
        RedisConnections redis = connect(TestRedis.url());
        RedisSocketCounter stopping = counter(connect(TestRedis.url()));
        RedisSocketCounter staying = counter(redis);
        String user = UUID.randomUUID().toString();
        assertThat(stopping.tryAcquire(user, "s1", 2)).isTrue();
        assertThat(stopping.tryAcquire(user, "s2", 2)).isTrue();
        assertThat(staying.tryAcquire(user, "x1", 2)).isFalse();
        stopping.close();
        assertThat(staying.tryAcquire(user, "x1", 2)).isTrue();

        // A member of an instance whose last heartbeat vouched for it until a moment already past: a crashed one.
        redis.call(c -> c.hset(redis.key("instances"), "crashed", "1"));
        redis.call(c -> c.sadd(redis.key("sockets", user), "crashed/c1", "crashed/c2"));
        assertThat(staying.count(user)).isEqualTo(1);
        assertThat(staying.tryAcquire(user, "x2", 2)).isTrue();
    }

    @Test
    void cutOffInstanceCountsAloneAndWritesItsSocketsBackWhenRedisReturns() {
        URI url = TestRedis.url();
        TcpProxy proxy = TcpProxy.to(url.getHost(), url.getPort());
        resources.add(proxy);
        RedisConnections cutRedis = connect(URI.create("redis://127.0.0.1:" + proxy.port()));
        RedisSocketCounter cut = counter(cutRedis);
        RedisSocketCounter other = counter(connect(url));
        String user = UUID.randomUUID().toString();
        assertThat(cut.tryAcquire(user, "c0", 3)).isTrue();
        proxy.cut();
        Await.until("Redis seen down", WAIT, () -> !cutRedis.isUp());
        cut.release(user, "c0");
        assertThat(cut.tryAcquire(user, "c1", 3)).isTrue();
        assertThat(cut.tryAcquire(user, "c2", 3)).isTrue();
        assertThat(other.count(user)).as("Redis still holds c0 only").isEqualTo(1);
        proxy.restore();
        Await.until("the sockets opened meanwhile are written back", WAIT, () -> other.count(user) == 2);
        assertThat(other.tryAcquire(user, "o1", 3)).isTrue();
        assertThat(other.tryAcquire(user, "o2", 3)).isFalse();
    }
}
