package dev.parley.server.run;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.Sql;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the events of running runs to their logs in shared transactions (group commit). A run's agent emits an
 * event, {@link #append} queues it and waits until it is committed, so that an event is still stored before it is
 * published; meanwhile one writer thread takes everything queued, up to {@link #MAX_BATCH} events from any number
 * of runs, and inserts it in one transaction. Under load this turns thousands of one-row commits a second into a few
 * dozen, which leaves the connection pool to the requests that users wait on ({@code start_agent} above all); with
 * one run the wait is one hand-off longer than a commit of its own.
 *
 * <p>A batch that fails on a duplicate {@code (run_id, seq)} (another instance ended the run and appended its last
 * event) is written again one event per transaction, so that only that run's event fails; any other failure (the
 * database is down) fails every event of the batch, each caller getting the exception its own insert would have
 * thrown. Per-run order is the callers' to keep: a run appends its next event only after the previous one returned.
 */
final class EventLogWriter implements AutoCloseable {
    static final int MAX_BATCH = 500;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    private static final Logger LOG = LoggerFactory.getLogger(EventLogWriter.class);

    private record Pending(Object[] row, CompletableFuture<Void> stored, long queuedAt) {
    }

    private final Sql sql;
    private final RunStore store;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private volatile boolean closed;

    /** {@code start}: false leaves the writer idle until {@link #start()}, so that a test can fill a batch. */
    EventLogWriter(Sql sql, boolean start) {
        this.sql = sql;
        this.store = new RunStore(sql);
        this.writer = Thread.ofVirtual().name("parley-event-log").unstarted(this::writeLoop);
        if (start) {
            start();
        }
    }

    void start() {
        writer.start();
    }

    /** Events waiting for the writer. */
    int queued() {
        return queue.size();
    }

    /** How long the oldest event waiting for the writer has waited: how far the database is behind the runs. */
    Duration backlog() {
        Pending oldest = queue.peek();
        return oldest == null ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - oldest.queuedAt());
    }

    /** Stores one event and returns once it is committed; throws what the insert threw. */
    void append(String runId, long seq, String type, String wire, Instant createdAt) {
        Pending pending = new Pending(new Object[] {runId, seq, type, wire, createdAt}, new CompletableFuture<>(),
                System.nanoTime());
        boolean queued;
        synchronized (this) {
            queued = !closed;
            if (queued) {
                queue.add(pending);
            }
        }
        if (!queued) {
            store.appendEvent(runId, seq, type, wire, createdAt);
            return;
        }
        try {
            pending.stored().join(); // not interruptible: the event is queued and may be stored either way
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw e;
        }
    }

    private void writeLoop() {
        List<Pending> batch = new ArrayList<>(MAX_BATCH);
        while (true) {
            try {
                Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    if (closed && queue.isEmpty()) {
                        return; // nothing is queued once closed is set: append checks it under the same lock
                    }
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                write(batch, true);
            } catch (InterruptedException e) {
                LOG.warn("The event log writer was interrupted; it goes on until closed");
            } catch (RuntimeException e) {
                LOG.error("The event log writer failed on a batch of {} event(s)", batch.size(), e);
                batch.forEach(pending -> pending.stored().completeExceptionally(e));
            } finally {
                batch.clear();
            }
        }
    }

    /**
     * Writes a batch. {@code mayRetry}: a connection failure is tried once more at once, because the pool hands out
     * a connection that broke while idle (the database restarted, a network path was cut) until it has been used:
     * that first use fails, and the pool replaces the connection.
     */
    private void write(List<Pending> batch, boolean mayRetry) {
        try {
            if (batch.size() == 1) {
                Object[] row = batch.getFirst().row();
                store.appendEvent((String) row[0], (Long) row[1], (String) row[2], (String) row[3], (Instant) row[4]);
            } else {
                sql.inTransaction(connection -> {
                    RunStore.appendEvents(connection, batch.stream().map(Pending::row).toList());
                    return null;
                });
            }
            batch.forEach(pending -> pending.stored().complete(null));
        } catch (RuntimeException e) {
            if (mayRetry && e instanceof ProtocolException failure && failure.code() == ErrorCode.UPSTREAM_UNAVAILABLE) {
                LOG.info("The event log's database connection failed ({}); trying the batch once more",
                        e.getCause() == null ? e.getMessage() : e.getCause().toString());
                write(batch, false);
                return;
            }
            if (batch.size() > 1 && Sql.isUniqueViolation(e)) {
                for (Pending pending : batch) {
                    write(List.of(pending), false);
                }
                return;
            }
            batch.forEach(pending -> pending.stored().completeExceptionally(e));
        }
    }

    /** Writes what is queued, then stops; later appends are written by their callers directly. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        try {
            if (!writer.join(CLOSE_WAIT)) {
                LOG.warn("The event log writer did not finish within {} ms", CLOSE_WAIT.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
