package dev.parley.server.run;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.DatabaseHealth;
import dev.parley.server.db.Sql;
import dev.parley.server.db.Writes;
import dev.parley.server.fanout.Envelope;
import dev.parley.server.fanout.Fanout;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one appender of the run event logs, and the writer of everything a run stores: its start (thread, run, user
 * message and {@code agent_started}), its events, and its end (assistant message, outcome and last event). Every
 * event is committed before it is published, so the log is always ahead of every socket: a resume on any instance
 * replays exactly what is missing, and an instance that ends a run of a dead one numbers its last event after
 * everything any socket saw.
 *
 * <p>What runs queue is written by one writer thread in shared transactions (group commit): it takes up to
 * {@link #MAX_BATCH} queued units, runs them in one transaction on its own connection, commits, then publishes their
 * events in queue order and completes their futures. The units' row writes ({@link Appender#writes()}) and events
 * are written as one batch per statement, in {@code writeOrder} (parents first), so that a batch of many turns costs
 * a few round trips to PostgreSQL, not a few per turn; work that reads the database first has what is queued
 * before it written ({@link #submitAsync} as opposed to {@link #submitWritesAsync}). An agent that emits an event does not wait for any of this
 * ({@link #append}); a start or an end waits for its own commit ({@link #submit}). Events of one run are queued in
 * {@code seq} order by that run, so they are stored and published in that order.
 *
 * <p>A batch that fails is written again one unit per transaction, so that only the unit at fault fails (a taken
 * {@code seq}, a thread that is gone, a run already ended elsewhere); a connection failure is tried once more first.
 * An event that cannot be stored fails its run ({@link ActiveRun#logFailed}); the run's later events are then not
 * stored, so its log never has a gap, and its last event is numbered after what was stored.
 *
 * <p>While the database is unavailable, the runs' events, ends and approvals ({@link #submitForRunAsync}) are not
 * failed but held: the writer keeps them in memory, in queue order, with the {@code seq} they already carry, and
 * writes them, then what queued behind them, once {@link dev.parley.server.db.DatabaseHealth} says the database
 * answers again; they are published only then, so no socket sees an event before it is stored. Other work is refused
 * while anything is held and the database is down. What is held is bounded: a run past {@code maxHeldPerRun} events
 * or {@link #MAX_HELD_CHARS_PER_RUN}, or any run while all runs together hold more than {@link #MAX_HELD_CHARS}, is
 * ended ({@link ActiveRun#outOfRoom}); what it emitted before is kept, and its end follows it. Held units are lost
 * when the process ends before the database is back; the run's lease then runs out and another instance ends it. A
 * commit whose connection failed may have been stored all the same: the next transaction that appends to such a run
 * reads its log's last {@code seq} first ({@link ActiveRun#commitInDoubt}), and publishes, without writing them
 * again, the events it already holds.
 *
 * <p>Threads: {@link #queue} is shared; the units, {@link #held}, the runs' {@code appendedSeq}/{@code storedSeq}/
 * {@code logBroken}/held counts and the connection are the writer's, or the caller's once the journal is closed.
 *
 * <p>It is one class of over 500 lines because group commit, the retry one unit at a time and the outage's hold are
 * one loop of that one writer thread over one queue and one connection: apart, they would share the writer's state.
 */
final class RunJournal implements AutoCloseable {
    static final int MAX_BATCH = 256;
    /** What one run may hold in event bodies (characters) while the database is down. */
    static final long MAX_HELD_CHARS_PER_RUN = 1L << 20;
    /** What all runs together may hold in event bodies (characters) while the database is down. */
    static final long MAX_HELD_CHARS = 64L << 20;
    /** How long the writer waits before trying held units again after they failed once more. */
    private static final Duration HELD_RETRY_EVERY = Duration.ofMillis(100);
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    private static final Logger LOG = LoggerFactory.getLogger(RunJournal.class);

    /** Work a unit does inside its batch's transaction; events it appends are published after the commit. */
    @FunctionalInterface
    interface Work<T> {
        T run(Connection connection, Appender log) throws SQLException;
    }

    /** How work appends events to run logs, and queues its writes, inside its transaction. */
    interface Appender {
        /** Where the work queues its row writes; they run in batches with those of the other units. */
        Writes writes();

        /** The {@code seq} the run's next event takes, after everything stored and appended for it so far. */
        long nextSeq(ActiveRun run) throws SQLException;

        /** The next {@code seq} of a run of no instance here (an abandoned one), read from its log. */
        long nextSeq(String runId) throws SQLException;

        /** Appends an event of a run of this instance. */
        void append(ActiveRun run, Envelope event, Instant at) throws SQLException;

        /** Appends an event of a run of no instance here, to be published to {@code userId}'s sockets. */
        void append(String userId, Envelope event, Instant at) throws SQLException;
    }

    private static final class Unit<T> {
        final ActiveRun run; // an agent's event: its run; null for work
        final Envelope event;
        final Instant at;
        final Work<T> work;
        final boolean reads; // the work reads the database: what the batch queued so far is written first
        final boolean holdable; // kept while the database is down (a run's event or end) rather than failed
        final CompletableFuture<T> done;
        final long queuedAt = System.nanoTime();
        final List<Published> published = new ArrayList<>(1);
        T result;

        Unit(ActiveRun run, Envelope event, Instant at, Work<T> work, boolean reads, boolean holdable,
             CompletableFuture<T> done) {
            this.run = run;
            this.event = event;
            this.at = at;
            this.work = work;
            this.reads = reads;
            this.holdable = holdable;
            this.done = done;
        }
    }

    private record Published(String userId, Envelope event) {
    }

    private final Sql sql;
    private final List<String> writeOrder;
    private final Fanout fanout;
    private final RunMetrics metrics;
    private final LinkedBlockingQueue<Unit<?>> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private final int maxHeldPerRun;
    /** Units that could not be written because the database is unavailable, in queue order (the writer's). */
    private final ArrayDeque<Unit<?>> held = new ArrayDeque<>();
    private long heldChars; // the writer's: event bodies in held
    private volatile int heldEvents; // written by the writer: events in held
    private long nextHeldAttempt = System.nanoTime(); // the writer's
    private volatile boolean closed;

    /**
     * {@code start}: false leaves the writer idle until {@link #start()}, so that a test can fill a batch;
     * {@code maxHeldPerRun}: how many events a run may hold while the database is down.
     */
    RunJournal(Sql sql, List<String> writeOrder, Fanout fanout, RunMetrics metrics, int maxHeldPerRun, boolean start) {
        this.sql = sql;
        this.maxHeldPerRun = maxHeldPerRun;
        this.writeOrder = List.copyOf(writeOrder);
        this.fanout = fanout;
        this.metrics = metrics;
        this.writer = Thread.ofPlatform().daemon().name("parley-run-journal").unstarted(this::writeLoop);
        if (start) {
            start();
        }
    }

    void start() {
        writer.start();
    }

    /** Units waiting for the writer. */
    int queued() {
        return queue.size();
    }

    /** Run events held in memory because the database is unavailable, waiting to be stored. */
    int heldEvents() {
        return heldEvents;
    }

    /** How long the oldest unit waiting for the writer has waited: how far the database is behind the runs. */
    Duration backlog() {
        Unit<?> oldest = queue.peek();
        return oldest == null ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - oldest.queuedAt);
    }

    /**
     * Queues an event the run's agent emitted and returns at once; it is published once stored. When it cannot be
     * stored, the run is failed through {@link ActiveRun#logFailed}.
     */
    void append(ActiveRun run, Envelope event, Instant at) {
        enqueue(new Unit<>(run, event, at, null, false, true, null));
    }

    /**
     * Queues work and returns at once; the future completes once it is committed and its events published (on the
     * journal's thread, so dependent stages must be quick), or fails with what the work threw.
     */
    <T> CompletableFuture<T> submitAsync(Work<T> work) {
        return submitAsync(work, true);
    }

    /**
     * As {@link #submitAsync(Work)}, for work that writes through {@link Appender#writes()} and touches the connection
     * itself only for tables that nothing else the journal stores touches (the spend ledger's): the batch's queued
     * writes are not flushed before it, so its writes are batched with those of the units around it.
     */
    <T> CompletableFuture<T> submitWritesAsync(Work<T> work) {
        return submitAsync(work, false);
    }

    private <T> CompletableFuture<T> submitAsync(Work<T> work, boolean reads) {
        // While the database is known to be down, refuse at once rather than queue behind a batch that waits for it.
        sql.health().requireUp();
        CompletableFuture<T> done = new CompletableFuture<>();
        enqueue(new Unit<>(null, null, null, work, reads, false, done));
        return done;
    }

    /**
     * Queues writes of a run of this instance that already runs (its end, an approval it asks for), as
     * {@link #submitWritesAsync}, but never refused while the database is down: held with the run's events and
     * written after them once it is back. The future fails with what the work threw, or with
     * {@code upstream_unavailable} when the journal closes before the database is back.
     */
    <T> CompletableFuture<T> submitForRunAsync(Work<T> work) {
        CompletableFuture<T> done = new CompletableFuture<>();
        enqueue(new Unit<>(null, null, null, work, false, true, done));
        return done;
    }

    /** As {@link #submitForRunAsync}, waiting for the commit; throws what the work threw. */
    <T> T submitForRun(Work<T> work) {
        return join(submitForRunAsync(work));
    }

    /** Queues work and returns its result once committed and its events published; throws what the work threw. */
    <T> T submit(Work<T> work) {
        return join(submitAsync(work));
    }

    /** As {@link #submit}, for work that only writes ({@link #submitWritesAsync}). */
    <T> T submitWrites(Work<T> work) {
        return join(submitWritesAsync(work));
    }

    /** Waits for a journal future; a failure comes out as what the work threw, not wrapped. */
    static <T> T join(CompletableFuture<T> done) {
        try {
            return done.join(); // not interruptible: once queued, the work may be committed either way
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw e;
        }
    }

    private void enqueue(Unit<?> unit) {
        boolean queued;
        synchronized (this) {
            queued = !closed;
            if (queued) {
                queue.add(unit);
            }
        }
        if (!queued) {
            failAll(write(List.of(unit), true)); // closed: the caller writes its own unit
        }
    }

    private void writeLoop() {
        List<Unit<?>> batch = new ArrayList<>(MAX_BATCH);
        while (true) {
            try {
                if (!held.isEmpty() && (closed || !sql.health().isDown())
                        && System.nanoTime() - nextHeldAttempt >= 0) {
                    writeHeld(batch);
                    continue;
                }
                Unit<?> first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    if (closed && queue.isEmpty() && held.isEmpty()) {
                        return; // nothing is queued once closed is set: enqueue checks it under the same lock
                    }
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                if (held.isEmpty()) {
                    holdAll(write(batch, true));
                } else {
                    holdAll(batch); // behind what is held: written after it, or refused while the database is down
                }
            } catch (InterruptedException e) {
                LOG.warn("The run journal's writer was interrupted; it goes on until closed");
            } catch (RuntimeException e) {
                LOG.error("The run journal's writer failed on a batch of {} unit(s)", batch.size(), e);
                batch.forEach(unit -> fail(unit, e));
            } finally {
                batch.clear();
            }
        }
    }

    /**
     * Writes the oldest held units, in order, with what they carry ({@code seq} included). What fails again for the
     * database goes back to the front of {@link #held} and is tried again after {@link #HELD_RETRY_EVERY}; once the
     * journal is closed it fails instead.
     */
    private void writeHeld(List<Unit<?>> batch) {
        while (batch.size() < MAX_BATCH && !held.isEmpty()) {
            Unit<?> unit = held.pollFirst();
            count(unit, -1);
            batch.add(unit);
        }
        List<Unit<?>> again = write(batch, true);
        if (again.isEmpty()) {
            if (held.isEmpty()) {
                LOG.info("The run journal stored what it held while the database was unavailable");
            }
            return;
        }
        if (closed) {
            LOG.warn("The run journal closes with {} unit(s) it could not store: the database is unavailable",
                    again.size() + held.size());
            failAll(again);
            failAll(new ArrayList<>(held));
            held.forEach(unit -> count(unit, -1));
            held.clear();
            return;
        }
        for (int i = again.size() - 1; i >= 0; i--) {
            held.addFirst(again.get(i));
            count(again.get(i), 1);
        }
        nextHeldAttempt = System.nanoTime() + HELD_RETRY_EVERY.toNanos();
    }

    /** Keeps the units that may wait for the database (behind what is already held); fails the others. */
    private void holdAll(List<Unit<?>> units) {
        for (Unit<?> unit : units) {
            if (!unit.holdable) {
                fail(unit, DatabaseHealth.unavailable(null));
                continue;
            }
            if (held.isEmpty()) {
                LOG.warn("The database is unavailable: the run journal holds the runs' events until it is back");
            }
            held.addLast(unit);
            count(unit, 1);
        }
    }

    /**
     * Counts a held unit in ({@code sign} 1) or out (-1); a run that holds more than it may, or any run while all of
     * them together do, is ended, keeping what it emitted so far.
     */
    private void count(Unit<?> unit, int sign) {
        if (unit.work != null) {
            return; // a run's end: one per run, and it carries no event body of its own
        }
        int chars = unit.event.wire().length();
        heldChars += sign * (long) chars;
        heldEvents += sign;
        unit.run.held(sign, chars);
        if (sign > 0 && (unit.run.heldEvents() > maxHeldPerRun || unit.run.heldChars() > MAX_HELD_CHARS_PER_RUN
                || heldChars > MAX_HELD_CHARS)) {
            unit.run.outOfRoom(outOfRoom());
        }
    }

    /** Why a run ended because it could not hold more events while the database was down. */
    static ProtocolException outOfRoom() {
        return new ProtocolException(ErrorCode.UPSTREAM_UNAVAILABLE, "The database was unavailable for longer than this"
                + " run could keep its events; what it had answered so far is stored. Send the message again.",
                Map.of("retry_after_ms", DatabaseHealth.RETRY_AFTER.toMillis()), null);
    }

    private static void failAll(List<Unit<?>> units) {
        ProtocolException unavailable = DatabaseHealth.unavailable(null);
        units.forEach(unit -> fail(unit, unavailable));
    }

    /**
     * Writes a batch in one transaction, then publishes and completes it. {@code mayRetry}: a connection failure is
     * tried once more at once, because the pool hands out a connection that broke while idle (the database
     * restarted, a network path was cut) until it has been used: that first use fails, and the pool replaces it.
     * Returns the units that could not be written because the database is unavailable and may wait for it (the
     * runs' events and ends), in order; the others are failed.
     */
    private List<Unit<?>> write(List<Unit<?>> batch, boolean mayRetry) {
        Set<ActiveRun> touched = new LinkedHashSet<>();
        try {
            sql.inTransaction(connection -> {
                run(connection, batch, touched);
                return null;
            });
        } catch (RuntimeException e) {
            touched.forEach(ActiveRun::rollBackAppended);
            batch.forEach(unit -> unit.published.clear());
            if (e instanceof ProtocolException failure && failure.code() == ErrorCode.UPSTREAM_UNAVAILABLE) {
                // The connection failed: the commit may have reached the database before its answer was lost.
                touched.forEach(ActiveRun::markCommitInDoubt);
                if (mayRetry && !sql.health().isDown()
                        && !(failure.getCause() instanceof SQLTransientConnectionException)) {
                    // The driver's message is left out: for a batch it quotes the statement with its values.
                    LOG.info("The run journal's database connection failed ({}); trying the batch once more",
                            e.getCause() == null ? e.getMessage() : e.getCause().getClass().getSimpleName());
                    return write(batch, false);
                }
                List<Unit<?>> waiting = new ArrayList<>(batch.size());
                for (Unit<?> unit : batch) {
                    if (unit.holdable) {
                        waiting.add(unit);
                    } else {
                        fail(unit, e);
                    }
                }
                return waiting;
            }
            if (batch.size() > 1) {
                List<Unit<?>> waiting = new ArrayList<>();
                for (Unit<?> unit : batch) {
                    waiting.addAll(write(List.of(unit), false));
                }
                return waiting;
            }
            fail(batch.getFirst(), e);
            return List.of();
        }
        touched.forEach(ActiveRun::commitAppended);
        for (Unit<?> unit : batch) {
            for (Published published : unit.published) {
                fanout.publish(published.userId(), published.event());
                metrics.eventEmitted(published.event().type());
            }
            complete(unit);
        }
        return List.of();
    }

    private void run(Connection connection, List<Unit<?>> batch, Set<ActiveRun> touched) throws SQLException {
        Writes writes = new Writes(writeOrder);
        Set<ActiveRun> checked = new HashSet<>();
        try (RunEventLog.Inserts inserts = new RunEventLog.Inserts(connection)) {
            for (Unit<?> unit : batch) {
                Appender log = appender(connection, writes, inserts, unit, touched, checked);
                if (unit.work == null) {
                    if (!unit.run.logBroken()) {
                        log.append(unit.run, unit.event, unit.at);
                    }
                } else {
                    if (unit.reads) {
                        flush(connection, writes, inserts); // the work may read what the batch wrote so far
                    }
                    runWork(connection, log, unit);
                }
            }
            flush(connection, writes, inserts);
        }
    }

    /** Writes what the batch queued: rows first, then the events that may refer to them. */
    private static void flush(Connection connection, Writes writes, RunEventLog.Inserts inserts) throws SQLException {
        writes.flush(connection);
        inserts.flush();
    }

    private static <T> void runWork(Connection connection, Appender log, Unit<T> unit) throws SQLException {
        unit.result = unit.work.run(connection, log);
    }

    private static Appender appender(Connection connection, Writes writes, RunEventLog.Inserts inserts, Unit<?> unit,
                                     Set<ActiveRun> touched, Set<ActiveRun> checked) {
        return new Appender() {
            @Override
            public Writes writes() {
                return writes;
            }

            @Override
            public long nextSeq(ActiveRun run) throws SQLException {
                settle(run);
                return run.appendedSeq() + 1;
            }

            /**
             * A run whose last commit failed with its connection may have had it stored all the same (the answer was
             * lost, not the commit): once per transaction, what its log holds is read, and the events it already
             * holds are published without being written again, so that no {@code seq} is taken twice.
             */
            private void settle(ActiveRun run) throws SQLException {
                if (run.commitInDoubt() && checked.add(run)) {
                    flush(connection, writes, inserts);
                    long stored = RunEventLog.lastSeq(connection, run.runId);
                    if (stored > run.appendedSeq()) {
                        LOG.info("Run {}: events up to seq {} were stored by a commit whose answer was lost",
                                run.runId, stored);
                        run.appended(stored);
                    }
                    touched.add(run);
                }
            }

            @Override
            public long nextSeq(String runId) throws SQLException {
                flush(connection, writes, inserts);
                return RunEventLog.lastSeq(connection, runId) + 1;
            }

            @Override
            public void append(ActiveRun run, Envelope event, Instant at) throws SQLException {
                settle(run);
                if (event.seq() > run.appendedSeq()) {
                    inserts.add(event, at);
                    run.appended(event.seq());
                }
                touched.add(run);
                unit.published.add(new Published(run.userId, event));
            }

            @Override
            public void append(String userId, Envelope event, Instant at) throws SQLException {
                inserts.add(event, at);
                unit.published.add(new Published(userId, event));
            }
        };
    }

    private static <T> void complete(Unit<T> unit) {
        if (unit.done != null) {
            unit.done.complete(unit.result);
        }
    }

    private static void fail(Unit<?> unit, RuntimeException failure) {
        if (unit.done != null) {
            unit.done.completeExceptionally(failure);
        } else if (!unit.run.logBroken()) {
            unit.run.logFailed(failure);
        }
    }

    /** Writes what is queued, then stops; later units are written by their callers directly. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        if (writer.getState() == Thread.State.NEW) {
            List<Unit<?>> left = new ArrayList<>();
            queue.drainTo(left);
            left.forEach(unit -> failAll(write(List.of(unit), true))); // never started (a test): written here
            return;
        }
        try {
            if (!writer.join(CLOSE_WAIT)) {
                LOG.warn("The run journal's writer did not finish within {} ms", CLOSE_WAIT.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
