package dev.parley.server.fanout;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** A subscriber that keeps what it receives, in order, for tests to await and inspect. */
final class Recorder implements Consumer<Envelope> {
    static final Duration WAIT = Duration.ofSeconds(10);

    private final List<Envelope> received = new ArrayList<>();

    @Override
    public synchronized void accept(Envelope event) {
        received.add(event);
    }

    synchronized List<Envelope> received() {
        return List.copyOf(received);
    }

    synchronized int size() {
        return received.size();
    }

    /** The seqs received for one run, in arrival order. */
    synchronized List<Long> seqs(String runId) {
        return received.stream().filter(e -> runId.equals(e.runId())).map(Envelope::seq).toList();
    }

    void awaitCount(int count) {
        Await.until(count + " events (have " + size() + ")", WAIT, () -> size() >= count);
    }

    /** Waits until the run's events 1..last arrived, and checks that they came once each, in order. */
    void awaitRun(String runId, long last) {
        Await.until("events 1.." + last + " of run " + runId + " (have " + seqs(runId) + ")", WAIT,
                () -> seqs(runId).size() >= last);
        List<Long> expected = new ArrayList<>();
        for (long seq = 1; seq <= last; seq++) {
            expected.add(seq);
        }
        assertThat(seqs(runId)).as("run " + runId).containsExactlyElementsOf(expected);
    }
}
