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
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The fan-out contract on Redis, and what only a shared fan-out does: events cross instances once each and in order;
 * stop requests cross instances; a lost message is fetched from the run's log; an instance cut off from Redis keeps
 * its own subscribers served, reads the others' events from the logs meanwhile, and catches up when Redis returns;
 * the others catch up on what it could not publish. Needs {@code PARLEY_TEST_REDIS_URL}; each test has its own
 * key prefix, and outages are made by a TCP relay in front of Redis, so the shared Redis is never stopped.
 */
class RedisFanoutTest extends FanoutContract {
    private static final Duration WAIT = Duration.ofSeconds(15);

    private final String prefix = TestRedis.freshPrefix();
    private final List<AutoCloseable> resources = new ArrayList<>();

    @Override
    protected Fanout create(RunLogFixture log) {
        return instance().fanout;
    }

    private record Instance(RedisConnections redis, RedisFanout fanout) {
    }

    /** An instance on the shared Redis. */
    private Instance instance() {
        return instance(TestRedis.url());
    }

    private Instance instance(URI url) {
        RedisConnections redis = TestRedis.connect(url, prefix, Clock.systemUTC());
        RedisFanout fanout = new RedisFanout(redis, log.eventLog(), Clock.systemUTC());
        resources.add(fanout);
        resources.add(redis);
        // An instance takes part once its link to Redis is up, as readiness reports it, and Redis has confirmed its
        // control channel (a stop published before that reaches it through the database's flag, not the bus).
        Await.until("the instance's Redis link is up", WAIT,
                () -> fanout.describe().equals("up") && fanout.controlListening());
        return new Instance(redis, fanout);
    }

    private TcpProxy proxy() {
        URI url = TestRedis.url();
        TcpProxy proxy = TcpProxy.to(url.getHost(), url.getPort() < 0 ? 6379 : url.getPort());
        resources.add(proxy);
        return proxy;
    }

    private static URI through(TcpProxy proxy) {
        URI url = TestRedis.url();
        return URI.create(url.getScheme() + "://127.0.0.1:" + proxy.port() + (url.getPath() == null ? "" : url.getPath()));
    }

    /** A recorder of {@code user}'s events on {@code instance}, subscribed until the test ends. */
    private Recorder recording(Instance instance, String user) {
        Recorder recorder = new Recorder();
        resources.add(instance.fanout().subscribe(user, recorder));
        return recorder;
    }

    /** Cuts {@code instance}'s link to Redis (it runs through {@code proxy}) and waits until it sees Redis down. */
    private static void cut(TcpProxy proxy, Instance instance) {
        proxy.cut();
        Await.until("the instance sees Redis down", WAIT, () -> instance.fanout().describe().equals("down"));
    }

    /** Restores what {@link #cut} cut and waits until the instance sees Redis up. */
    private static void restore(TcpProxy proxy, Instance instance) {
        proxy.restore();
        Await.until("the instance sees Redis up", WAIT, () -> instance.fanout().describe().equals("up"));
    }

    @AfterEach
    void closeInstances() throws Exception {
        for (AutoCloseable resource : resources.reversed()) {
            resource.close();
        }
    }

    @Test
    void eventsCrossInstancesOnceEachAndInOrder() {
        Instance a = instance();
        Instance b = instance();
        String user = log.user();
        Recorder onA = recording(a, user);
        Recorder onB = recording(b, user);
        List<String> runs = new ArrayList<>();
        for (int r = 0; r < 5; r++) {
            runs.add(log.run(user));
        }
        for (long seq = 1; seq <= 60; seq++) {
            for (String run : runs) {
                a.fanout().publish(user, log.log(run, seq, seq == 60));
            }
        }
        for (String run : runs) {
            onA.awaitRun(run, 60);
            onB.awaitRun(run, 60);
        }
        assertThat(onA.size()).isEqualTo(300);
        assertThat(onB.size()).isEqualTo(300);
        assertThat(b.fanout().recoveredEvents()).isZero();
    }

    @Test
    void eventsNeverReachAnotherUsersSubscribersOnAnyInstance() {
        Instance a = instance();
        Instance b = instance();
        String user = log.user();
        String other = log.user();
        Recorder mine = recording(b, user);
        Recorder theirs = recording(b, other);
        String run = log.run(user);
        a.fanout().publish(user, log.log(run, 1, false));
        a.fanout().publish(user, log.log(run, 2, true));
        mine.awaitRun(run, 2);
        String otherRun = log.run(other);
        a.fanout().publish(other, log.log(otherRun, 1, true));
        theirs.awaitRun(otherRun, 1);
        assertThat(theirs.size()).isEqualTo(1);
    }

    @Test
    void stopRequestsReachTheOtherInstances() {
        Instance a = instance();
        Instance b = instance();
        List<String> heardOnB = new CopyOnWriteArrayList<>();
        try (Fanout.Subscription handler = b.fanout().onStopRequest(heardOnB::add)) {
            a.fanout().requestStop("run-on-b");
            Await.until("b hears the stop request", WAIT, () -> heardOnB.contains("run-on-b"));
        }
    }

    @Test
    void lostMessageIsFetchedFromTheRunLogAndOrderIsKept() {
        Instance a = instance();
        Instance b = instance();
        String user = log.user();
        Recorder onB = recording(b, user);
        String run = log.run(user);
        a.fanout().publish(user, log.log(run, 1, false));
        log.log(run, 2, false); // logged, but its message never made it onto the bus
        log.log(run, 3, false);
        a.fanout().publish(user, log.log(run, 4, false));
        a.fanout().publish(user, log.log(run, 5, true));
        onB.awaitRun(run, 5);
        // 2 and 3 come from the log; so does 5 when the read of the log finds it before its message arrives.
        assertThat(b.fanout().recoveredEvents()).isBetween(2L, 3L);
    }

    @Test
    void aRunFirstHeardOfMidwayArrivesWholeFromItsLog() {
        Instance a = instance();
        Instance b = instance();
        String user = log.user();
        Recorder onB = recording(b, user);
        String run = log.run(user);
        log.log(run, 1, false); // published while b's subscription was being renewed: b never heard them
        log.log(run, 2, false);
        a.fanout().publish(user, log.log(run, 3, false));
        a.fanout().publish(user, log.log(run, 4, true));
        onB.awaitRun(run, 4);
        assertThat(b.fanout().recoveredEvents()).isBetween(2L, 3L);
    }

    @Test
    void eventsLoggedButNeverPublishedAreFoundOnceTheRunGoesQuiet() {
        Instance a = instance();
        Instance b = instance();
        String user = log.user();
        Recorder onB = recording(b, user);
        String run = log.run(user);
        a.fanout().publish(user, log.log(run, 1, false));
        a.fanout().publish(user, log.log(run, 2, false));
        onB.awaitRun(run, 2);
        log.log(run, 3, false); // the publishing instance died after logging these, before publishing them
        log.log(run, 4, true);
        onB.awaitRun(run, 4);
        assertThat(b.fanout().recoveredEvents()).isEqualTo(2);
    }

    @Test
    void subscriberCutOffFromRedisReadsTheLogsAndCatchesUpWhenRedisReturns() {
        Instance a = instance();
        TcpProxy proxy = proxy();
        Instance b = instance(through(proxy));
        String user = log.user();
        Recorder onA = recording(a, user);
        Recorder onB = recording(b, user);
        String run = log.run(user);
        a.fanout().publish(user, log.log(run, 1, false));
        onB.awaitRun(run, 1);

        cut(proxy, b);
        for (long seq = 2; seq <= 20; seq++) {
            a.fanout().publish(user, log.log(run, seq, false));
        }
        onA.awaitRun(run, 20);
        // While Redis is down, b reads the other instances' events from the logs.
        Await.until("b gets the events from the log", WAIT, () -> onB.seqs(run).size() >= 20);
        assertThat(b.fanout().describe()).isEqualTo("down");

        restore(proxy, b);
        for (long seq = 21; seq <= 30; seq++) {
            a.fanout().publish(user, log.log(run, seq, seq == 30));
        }
        onB.awaitRun(run, 30);
        onA.awaitRun(run, 30);
    }

    @Test
    void publisherCutOffFromRedisServesItsOwnSubscribersAndTheOthersCatchUpWhenItReturns() {
        TcpProxy proxy = proxy();
        Instance a = instance(through(proxy));
        Instance b = instance();
        String user = log.user();
        Recorder onA = recording(a, user);
        Recorder onB = recording(b, user);
        String run = log.run(user);
        a.fanout().publish(user, log.log(run, 1, false));
        onB.awaitRun(run, 1);

        cut(proxy, a);
        for (long seq = 2; seq <= 10; seq++) {
            a.fanout().publish(user, log.log(run, seq, seq == 10));
        }
        onA.awaitRun(run, 10); // its own subscribers are served at once, with Redis still cut off
        // How many of these publishes a refuses outright depends on when its command link is seen down; the rest
        // are lost on the dead link or re-sent by Lettuce after the reconnect. b must get all of them either way.

        proxy.restore();
        onB.awaitRun(run, 10); // b hears a's resync and reads what it missed
        assertThat(onA.size()).isEqualTo(10);
    }

    @Test
    void subscribingWhileRedisIsDownStillDeliversWhatIsPublishedAfterwards() {
        Instance a = instance();
        TcpProxy proxy = proxy();
        Instance b = instance(through(proxy));
        cut(proxy, b);
        String user = log.user();
        Recorder onB = recording(b, user);
        String run = log.run(user);
        for (long seq = 1; seq <= 5; seq++) {
            a.fanout().publish(user, log.log(run, seq, false));
        }
        restore(proxy, b);
        a.fanout().publish(user, log.log(run, 6, true));
        onB.awaitRun(run, 6);
    }
}
