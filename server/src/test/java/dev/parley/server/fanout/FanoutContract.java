package dev.parley.server.fanout;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.Await;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Fanout} does, on one instance: each subscriber of a user gets each event once, in publishing
 * order, and no other user's; closed subscriptions get nothing; one failing subscriber does not silence the others;
 * stop requests reach the stop handlers. Events are logged before they are published, as runs do.
 */
abstract class FanoutContract {
    protected RunLogFixture log;
    private Fanout fanout;

    /** A fan-out over the fixture's database. */
    protected abstract Fanout create(RunLogFixture log);

    @BeforeEach
    void setUp() {
        log = RunLogFixture.embedded();
        fanout = create(log);
    }

    @AfterEach
    void tearDown() {
        if (fanout != null) {
            fanout.close();
        }
        log.close();
    }

    @Test
    void everySubscriberOfTheUserGetsEachEventOnceAndNoOtherUserDoes() {
        String user = log.user();
        String other = log.user();
        Recorder first = new Recorder();
        Recorder second = new Recorder();
        Recorder stranger = new Recorder();
        try (Fanout.Subscription a = fanout.subscribe(user, first);
             Fanout.Subscription b = fanout.subscribe(user, second);
             Fanout.Subscription c = fanout.subscribe(other, stranger)) {
            String run = log.run(user);
            for (long seq = 1; seq <= 3; seq++) {
                fanout.publish(user, log.log(run, seq, seq == 3));
            }
            first.awaitRun(run, 3);
            second.awaitRun(run, 3);
            fanout.publish(other, log.log(log.run(other), 1, false));
            stranger.awaitCount(1);
            assertThat(stranger.received()).allMatch(e -> !e.runId().equals(run));
            assertThat(first.size()).isEqualTo(3);
        }
    }

    @Test
    void eventsOfARunArriveInSeqOrder() {
        String user = log.user();
        Recorder recorder = new Recorder();
        try (Fanout.Subscription s = fanout.subscribe(user, recorder)) {
            String run = log.run(user);
            for (long seq = 1; seq <= 300; seq++) {
                fanout.publish(user, log.log(run, seq, seq == 300));
            }
            recorder.awaitRun(run, 300);
        }
    }

    @Test
    void eventsThatAreNotPartOfARunAreDelivered() {
        String user = log.user();
        Recorder recorder = new Recorder();
        try (Fanout.Subscription s = fanout.subscribe(user, recorder)) {
            fanout.publish(user, new Envelope("heartbeat", null, 0, "{\"type\":\"heartbeat\"}"));
            recorder.awaitCount(1);
            assertThat(recorder.received().getFirst().type()).isEqualTo("heartbeat");
        }
    }

    @Test
    void closedSubscriptionGetsNothingMoreAndClosingTwiceIsHarmless() {
        String user = log.user();
        Recorder closed = new Recorder();
        Recorder open = new Recorder();
        Fanout.Subscription closing = fanout.subscribe(user, closed);
        try (Fanout.Subscription staying = fanout.subscribe(user, open)) {
            closing.close();
            closing.close();
            String run = log.run(user);
            fanout.publish(user, log.log(run, 1, false));
            open.awaitCount(1);
            assertThat(closed.size()).isZero();
        }
    }

    @Test
    void sameSubscriberTwiceIsTwoRegistrationsRemovedOneAtATime() {
        String user = log.user();
        Recorder recorder = new Recorder();
        Fanout.Subscription first = fanout.subscribe(user, recorder);
        try (Fanout.Subscription second = fanout.subscribe(user, recorder)) {
            first.close();
            fanout.publish(user, log.log(log.run(user), 1, false));
            recorder.awaitCount(1);
        }
    }

    @Test
    void failingSubscriberDoesNotSilenceTheOthers() {
        String user = log.user();
        Recorder recorder = new Recorder();
        try (Fanout.Subscription failing = fanout.subscribe(user, event -> {
                throw new IllegalStateException("subscriber bug");
            });
             Fanout.Subscription working = fanout.subscribe(user, recorder)) {
            String run = log.run(user);
            fanout.publish(user, log.log(run, 1, false));
            fanout.publish(user, log.log(run, 2, true));
            recorder.awaitRun(run, 2);
        }
    }

    @Test
    void stopRequestsReachTheStopHandlersUntilTheyAreClosed() {
        List<String> heard = new CopyOnWriteArrayList<>();
        List<String> closedHeard = new CopyOnWriteArrayList<>();
        Fanout.Subscription closing = fanout.onStopRequest(closedHeard::add);
        try (Fanout.Subscription handler = fanout.onStopRequest(heard::add)) {
            closing.close();
            fanout.requestStop("run-1");
            Await.until("the stop request is heard", Recorder.WAIT, () -> heard.contains("run-1"));
            assertThat(closedHeard).isEmpty();
        }
    }

    @Test
    void describesItsReach() {
        assertThat(fanout.describe()).isIn("local", "up");
    }
}
