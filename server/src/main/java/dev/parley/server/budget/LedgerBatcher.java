package dev.parley.server.budget;

import dev.parley.server.db.Sql;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ledger's writer on PostgreSQL: one thread ({@code parley-ledger}) that runs the queued units together, up to
 * {@link #MAX_BATCH} of them in one transaction on one pool connection, and commits once (group commit). A
 * transaction of its own per reservation and per charge costs the database a commit each, which under load was most
 * of what a budget added to a turn; side by side on the pool they also took a connection each.
 *
 * <p>A batch's units run in the order of their users' ids (units of one user in the order they were queued), so that
 * the ledger rows a batch locks are locked in one order on every instance: two instances' batches wait for each
 * other's commit, never in a cycle. A unit that fails aborts its batch's transaction; the batch's units then run
 * again one per transaction, so that only the unit at fault fails (each unit leaves the same result when run again
 * after a rollback, as {@link LedgerWriter} requires). While the database is known to be down, {@link Sql} refuses a
 * transaction at once, and so every queued unit fails at once with {@code upstream_unavailable}.
 *
 * <p>Units submitted after {@link #close} run each in a transaction of their own on a virtual thread.
 */
public final class LedgerBatcher implements LedgerWriter, AutoCloseable {
    static final int MAX_BATCH = 128;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    private static final Logger LOG = LoggerFactory.getLogger(LedgerBatcher.class);
    private static final Comparator<Unit<?>> LOCK_ORDER = Comparator.comparing(Unit::userId,
            Comparator.nullsFirst(Comparator.naturalOrder()));

    private final Sql sql;
    private final LinkedBlockingQueue<Unit<?>> queue = new LinkedBlockingQueue<>();
    /** Makes "not closed, so queue it" one step, so that no unit is queued behind the end of the writer's loop. */
    private final ReentrantLock accepting = new ReentrantLock();
    private final Thread writer;
    private boolean closed; // guarded by accepting

    private record Unit<T>(String userId, Sql.Work<T> work, CompletableFuture<T> done) {
        static final Unit<Void> END = new Unit<>(null, connection -> null, new CompletableFuture<>());

        Object run(Connection connection) throws SQLException {
            return work.run(connection);
        }

        @SuppressWarnings("unchecked")
        void complete(Object result) {
            done.complete((T) result);
        }
    }

    public LedgerBatcher(Sql sql) {
        this.sql = sql;
        this.writer = Thread.ofPlatform().name("parley-ledger").daemon(true).unstarted(this::loop);
        writer.start();
    }

    @Override
    public <T> CompletableFuture<T> submit(Sql.Work<T> work) {
        return submit(null, work);
    }

    @Override
    public <T> CompletableFuture<T> submit(String userId, Sql.Work<T> work) {
        Unit<T> unit = new Unit<>(userId, work, new CompletableFuture<>());
        accepting.lock();
        try {
            if (!closed) {
                queue.add(unit);
                return unit.done();
            }
        } finally {
            accepting.unlock();
        }
        Thread.ofVirtual().start(() -> runAlone(unit));
        return unit.done();
    }

    private void loop() {
        List<Unit<?>> batch = new ArrayList<>(MAX_BATCH);
        while (true) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                continue; // only close() ends the loop, through END, once everything before it has run
            }
            queue.drainTo(batch, MAX_BATCH - 1);
            boolean end = batch.getLast() == Unit.END; // nothing is queued after it
            if (end) {
                batch.removeLast();
            }
            if (!batch.isEmpty()) {
                run(batch);
            }
            batch.clear();
            if (end) {
                return;
            }
        }
    }

    private void run(List<Unit<?>> batch) {
        if (batch.size() == 1) {
            runAlone(batch.getFirst());
            return;
        }
        batch.sort(LOCK_ORDER);
        Object[] results = new Object[batch.size()];
        try {
            sql.inTransaction(connection -> {
                for (int i = 0; i < results.length; i++) {
                    results[i] = batch.get(i).run(connection);
                }
                return null;
            });
        } catch (RuntimeException | Error e) {
            // An Error too: it must fail its unit, not end the writer's loop with every later unit left waiting.
            LOG.debug("A batch of {} ledger units failed ({}); running them one by one", batch.size(), e.toString());
            batch.forEach(this::runAlone);
            return;
        }
        for (int i = 0; i < results.length; i++) {
            batch.get(i).complete(results[i]);
        }
    }

    private void runAlone(Unit<?> unit) {
        Object result;
        try {
            result = sql.inTransaction(unit::run);
        } catch (RuntimeException | Error e) {
            unit.done().completeExceptionally(e);
            return;
        }
        unit.complete(result);
    }

    /** Runs what is queued, then stops the writer (waiting for it up to 5 s); later units run on their own. */
    @Override
    public void close() {
        accepting.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            queue.add(Unit.END);
        } finally {
            accepting.unlock();
        }
        try {
            if (!writer.join(CLOSE_WAIT)) {
                LOG.warn("The ledger's writer did not finish its queue within {}", CLOSE_WAIT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
