package dev.parley.server.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SendQueueTest {
    /** Long enough for a writer with nothing left to take to have ended. */
    private static final Duration PAUSE = Duration.ofMillis(50);

    /** Writers as a socket has them: each takes until the queue says to end, noting what it wrote. */
    private final List<String> written = new CopyOnWriteArrayList<>();
    private final AtomicInteger started = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger writing = new AtomicInteger();
    private final AtomicInteger mostAtOnce = new AtomicInteger();
    private final List<Thread> writers = new CopyOnWriteArrayList<>();
    private final SendQueue queue = new SendQueue(1 << 20, () -> {
        started.incrementAndGet();
        writers.add(Thread.ofVirtual().start(this::write));
    });

    private void write() {
        running.incrementAndGet();
        List<SendQueue.Item> items = new ArrayList<>();
        try {
            while (queue.take(items, 1 << 16)) {
                // Between a take that gave frames and the next take, this writer is the one writing.
                mostAtOnce.accumulateAndGet(writing.incrementAndGet(), Math::max);
                for (SendQueue.Item item : items) {
                    written.add(item instanceof SendQueue.Text text ? text.text() : item.toString());
                }
                items.clear();
                writing.decrementAndGet();
            }
        } finally {
            running.decrementAndGet();
        }
    }

    @Test
    void framesQueuedBeforeOpenWaitAndOneWriterSendsThemInOrderOnceOpen() throws Exception {
        queue.offer("{\"type\":\"a\"}");
        queue.offer("{\"type\":\"b\"}");
        Thread.sleep(100);
        assertThat(started).hasValue(0);
        assertThat(written).isEmpty();

        queue.open();
        awaitWritten(2);
        assertThat(written).containsExactly("{\"type\":\"a\"}", "{\"type\":\"b\"}");
        assertThat(started).hasValue(1);
    }

    @Test
    void anIdleQueueKeepsNoWriterAndTheNextFrameStartsOne() throws Exception {
        queue.open();
        assertThat(started).hasValue(0);
        queue.offer("{\"type\":\"first\"}");
        awaitWritten(1);
        awaitNoWriterRunning();

        queue.offer("{\"type\":\"second\"}");
        awaitWritten(2);
        assertThat(started).hasValue(2);
        assertThat(written).containsExactly("{\"type\":\"first\"}", "{\"type\":\"second\"}");
    }

    @Test
    void framesFromManyThreadsAcrossWritersStartAndEndsArriveInEachThreadsOrderWithOneWriterAtATime()
            throws Exception {
        queue.open();
        int threads = 4;
        int each = 200;
        List<Thread> producers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int producer = t;
            producers.add(Thread.ofVirtual().start(() -> {
                for (int i = 0; i < each; i++) {
                    queue.offer("{\"type\":\"p" + producer + "\",\"i\":" + i + "}");
                    if (i % 50 == 49) {
                        sleep(PAUSE.toMillis()); // long enough for the writer to end in between
                    }
                }
            }));
        }
        for (Thread producer : producers) {
            producer.join();
        }
        awaitWritten(threads * each);
        assertThat(started.get()).isGreaterThan(1);
        assertThat(mostAtOnce).hasValue(1);
        for (int t = 0; t < threads; t++) {
            String prefix = "{\"type\":\"p" + t + "\",\"i\":";
            List<Integer> order = written.stream().filter(frame -> frame.startsWith(prefix))
                    .map(frame -> Integer.parseInt(frame.substring(prefix.length(), frame.length() - 1))).toList();
            assertThat(order).hasSize(each).isSorted();
        }
    }

    @Test
    void aCloseQueuedToAnIdleQueueStartsAWriterThatSendsItAndNothingAfter() throws Exception {
        queue.open();
        queue.offer("{\"type\":\"last\"}");
        awaitWritten(1);
        awaitNoWriterRunning();

        assertThat(queue.closeAfterPending(1000, "bye")).isTrue();
        awaitWritten(2);
        assertThat(written.get(1)).isEqualTo(new SendQueue.Close(1000, "bye").toString());
        queue.offer("{\"type\":\"dropped\"}");
        queue.pong(new byte[0]);
        Thread.sleep(PAUSE.toMillis() * 3);
        assertThat(written).hasSize(2);
    }

    @Test
    void aShutDownDropsWhatIsQueuedAndWhatComesAfter() throws Exception {
        queue.offer("{\"type\":\"queued\"}");
        queue.shutDown();
        queue.offer("{\"type\":\"after\"}");
        queue.pong(new byte[0]);
        queue.open();
        Thread.sleep(PAUSE.toMillis() * 3);
        assertThat(started).hasValue(0);
        assertThat(written).isEmpty();
    }

    @Test
    void aWriterEndsAsSoonAsItsQueueIsEmpty() throws Exception {
        queue.open();
        queue.offer("{\"type\":\"x\"}");
        awaitWritten(1);
        assertThat(writers.getLast().join(Duration.ofMillis(700))).as("the writer did not wait for more").isTrue();
        assertThat(running).hasValue(0);
    }

    private void awaitWritten(int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (written.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(written).hasSize(count);
    }

    private void awaitNoWriterRunning() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (running.get() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(running).hasValue(0);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
