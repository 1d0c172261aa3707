package dev.parley.server.gateway;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The frames waiting for one socket's writer, bounded by their size in bytes (UTF-8). Producers never block on a
 * slow client: {@link #offer} refuses a frame that does not fit, and the socket then closes as a slow consumer. Only
 * the socket's own reader thread may wait for room ({@link #put}, used to pace a resume replay).
 *
 * <p>A frame larger than the whole budget is still accepted when the queue is empty, so one big event cannot close
 * a client that keeps up. Once a close is queued ({@link #closeAfterPending} or {@link #abort}) the queue takes no
 * more frames. All state is guarded by {@link #lock}.
 *
 * <p>The queue starts its writer itself, and only while there is something to write: once {@link #open} has been
 * called, a frame queued while no writer runs starts one, and a writer whose queue is empty ends ({@link #take}
 * returns false): a writer parked on an empty queue would keep its stack chunk alive past young collections, which
 * then copy it, promote it and scan it from the old generation (docs/benchmarks.md, "A writer only while frames
 * wait"). An idle socket therefore keeps no writer thread, and at most one writer runs at
 * a time, so frames leave in the order they were queued.
 */
final class SendQueue {
    sealed interface Item permits Text, Pong, Close {
    }

    /** A text frame, encoded once when queued: its length is what the queue counts, and its bytes what is sent. */
    record Text(byte[] utf8, String type) implements Item {
        static Text of(String wire) {
            return new Text(wire.getBytes(StandardCharsets.UTF_8), typeOf(wire));
        }

        int bytes() {
            return utf8.length;
        }

        String text() {
            return new String(utf8, StandardCharsets.UTF_8);
        }

        private static String typeOf(String wire) {
            // Every frame starts with {"type":"<type>" (ServerEvent.toJson writes type first).
            int start = wire.indexOf(':') + 2;
            int end = wire.indexOf('"', start);
            return start > 1 && end > start ? wire.substring(start, end) : "unknown";
        }
    }

    record Pong(byte[] data) implements Item {
    }

    record Close(int code, String reason) implements Item {
    }

    private final int limitBytes;
    private final Runnable startWriter;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Item> items = new ArrayDeque<>();
    private long queuedBytes;
    private boolean closed;
    private boolean shutDown;
    private boolean opened;
    /** A writer runs (or may not start yet: until {@link #open}); false once it has returned false from take. */
    private boolean writing = true;

    /**
     * {@code startWriter} starts a thread that takes from this queue until {@link #take} returns false; it is called
     * with the queue's lock held, so it must do nothing else.
     */
    SendQueue(int limitBytes, Runnable startWriter) {
        this.limitBytes = limitBytes;
        this.startWriter = startWriter;
    }

    /** Whether {@link #open} was called. */
    boolean opened() {
        lock.lock();
        try {
            return opened;
        } finally {
            lock.unlock();
        }
    }

    /** Lets writers start from now on, at once when frames are already queued; frames queued before only wait. */
    void open() {
        lock.lock();
        try {
            opened = true;
            writing = false;
            if (!items.isEmpty()) {
                wake();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Queues a frame unless it does not fit; true also when the queue is closing (the frame is then dropped). */
    boolean offer(String wire) {
        Text text = Text.of(wire);
        int bytes = text.bytes();
        lock.lock();
        try {
            if (closed) {
                return true;
            }
            if (!fits(bytes)) {
                return false;
            }
            add(text);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Queues a frame, waiting up to {@code timeout} for room; false when there was none in time. */
    boolean put(String wire, Duration timeout) throws InterruptedException {
        Text text = Text.of(wire);
        int bytes = text.bytes();
        long nanos = timeout.toNanos();
        lock.lock();
        try {
            while (!closed && !fits(bytes)) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = changed.awaitNanos(nanos);
            }
            if (!closed) {
                add(text);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Queues a pong; control frames are tiny and are not counted. */
    void pong(byte[] data) {
        lock.lock();
        try {
            if (!closed) {
                items.addLast(new Pong(data));
                wake();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Queues a close frame after the frames already queued; false when a close was already queued. */
    boolean closeAfterPending(int code, String reason) {
        return queueClose(code, reason, false);
    }

    /** Drops the queued frames and queues a close frame in their place; false when a close was already queued. */
    boolean abort(int code, String reason) {
        return queueClose(code, reason, true);
    }

    private boolean queueClose(int code, String reason, boolean dropQueued) {
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            closed = true;
            if (dropQueued) {
                items.clear();
                queuedBytes = 0;
            }
            items.addLast(new Close(code, reason));
            wake();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Ends the queue without a close frame (the connection is gone): the writer's next take returns null. */
    void shutDown() {
        lock.lock();
        try {
            closed = true;
            shutDown = true;
            items.clear();
            queuedBytes = 0;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Moves the next items into {@code into}: a pong or a close alone, or a run of text frames that are queued one after
     * the other, as many as fit in {@code maxBytes} (always at least one), so that the writer can put them on the wire
     * in one write. Returns false, and the writer must then end, once the queue is empty or shut down; the next frame
     * queued starts a new writer.
     */
    boolean take(List<Item> into, int maxBytes) {
        lock.lock();
        try {
            if (shutDown || items.isEmpty()) {
                writing = false;
                return false;
            }
            Item first = items.removeFirst();
            into.add(first);
            if (first instanceof Text text) {
                long taken = text.bytes();
                while (items.peekFirst() instanceof Text next && taken + next.bytes() <= maxBytes) {
                    items.removeFirst();
                    into.add(next);
                    taken += next.bytes();
                }
                queuedBytes -= taken;
                changed.signalAll();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    private boolean fits(int bytes) {
        return queuedBytes == 0 || queuedBytes + bytes <= limitBytes;
    }

    private void add(Item item) {
        items.addLast(item);
        if (item instanceof Text text) {
            queuedBytes += text.bytes();
        }
        wake();
    }

    /** Wakes whoever waits for room (so that a close ends the wait), and starts a writer when none runs (and may). */
    private void wake() {
        changed.signalAll();
        if (!writing) {
            writing = true;
            startWriter.run();
        }
    }

    static int utf8Length(CharSequence text) {
        int bytes = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }
}
