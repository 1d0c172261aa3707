package dev.parley.server.run;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.agent.Agent;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.db.Sql;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.observe.Metrics;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Agent runs, independent of any socket: starts them (user message stored, run stored, {@code agent_started}),
 * runs the agent on a virtual thread of its own, ends them ({@code agent_completed} or {@code agent_error}, with the
 * assistant message and the run's usage stored), stops them on request, on timeout or at shutdown, and serves their
 * event logs for resume and HTTP.
 *
 * <p>Each run's events carry {@code seq} 1, 2, 3, ... and are logged, then published to the {@link Fanout}, which
 * brings them to every socket of the run's user. A thread has at most one running run, on every instance (the
 * database enforces it).
 *
 * <p>This class is the run machinery's public face (what the gateway and {@code App} use); its jobs are done by
 * package-private parts that share this instance's run tables: {@link RunStarts} (admission and the start),
 * {@link RunEnds} (the run's thread: the agent, then its end stored), {@link RunStops} (stop requests, here and
 * through other instances), {@link RunMaintenance} (leases, abandoned runs, unrecorded ends, retention) and
 * {@link RunDrain} (shutdown). All of them write through one {@link RunJournal}, which the spend ledger shares
 * ({@link #writeLedger}).
 *
 * <p>Runs of this instance live in {@link #active} from their start until their agent's thread has stored their end;
 * {@code busyThreads} holds their threads until then, and {@code unrecordedEnds} the runs that ended while the
 * database was down, until maintenance stores their end. One platform thread, {@code parley-runs}, runs the
 * maintenance passes, the stop-request poll and the runs' timeouts.
 */
public final class RunService implements AutoCloseable {
    /** The {@code agent_name} of the events the run machinery emits itself (the first and the last of a run). */
    public static final String RUN_AGENT_NAME = "parley";
    /** The lease a run's instance holds on it unless configured otherwise ({@code PARLEY_RUN_LEASE}). */
    static final Duration LEASE = Config.Runs.DEFAULT_LEASE;
    /** How often the database is asked for stop requests that did not arrive over the fan-out. */
    static final Duration STOP_POLL_EVERY = Duration.ofSeconds(1);
    /** The order in which the journal writes a batch's rows: every parent before its children. */
    private static final List<String> WRITE_ORDER = List.of(ConversationStore.INSERT_THREAD,
            ConversationStore.COUNT_MESSAGE, RunStore.INSERT_RUN, ConversationStore.INSERT_MESSAGE, RunStore.FINISH_RUN);

    private final RunStore store;
    private final RunEventLog log;
    private final RunJournal journal;
    private final Config.Runs config;
    private final Clock clock;
    private final ConcurrentHashMap<String, ActiveRun> active = new ConcurrentHashMap<>();
    private final ScheduledThreadPoolExecutor scheduler;
    private final Fanout.Subscription stopRequests;
    private final Approvals approvals;
    private final RunStarts starts;
    private final RunStops stops;
    private final RunMaintenance maintenance;
    private final RunDrain drain;

    /**
     * {@code journal}: where the run journal's writer commits what runs store (its own connection, in production);
     * {@code log}: the event logs, read for resume and the HTTP routes.
     */
    public RunService(Sql sql, Sql journal, RunEventLog log, ConversationStore conversations, Agent agent,
                      Fanout fanout, Config.Runs config, Metrics metrics, Clock clock) {
        this(sql, journal, log, conversations, agent, fanout, config, metrics, clock, true,
                Config.Tools.DEFAULT_APPROVAL_TIMEOUT);
    }

    /** As above, with how long a run waits for a person's decision on a tool call ({@code PARLEY_APPROVAL_TIMEOUT}). */
    public RunService(Sql sql, Sql journal, RunEventLog log, ConversationStore conversations, Agent agent,
                      Fanout fanout, Config.Runs config, Metrics metrics, Clock clock, Duration approvalTimeout) {
        this(sql, journal, log, conversations, agent, fanout, config, metrics, clock, true, approvalTimeout);
    }

    /** {@code writeEvents}: false leaves the journal's writer idle until {@link #startEventWriter()} (for tests). */
    RunService(Sql sql, Sql journal, RunEventLog log, ConversationStore conversations, Agent agent, Fanout fanout,
               Config.Runs config, Metrics metrics, Clock clock, boolean writeEvents) {
        this(sql, journal, log, conversations, agent, fanout, config, metrics, clock, writeEvents,
                Config.Tools.DEFAULT_APPROVAL_TIMEOUT);
    }

    private RunService(Sql sql, Sql journal, RunEventLog log, ConversationStore conversations, Agent agent,
                       Fanout fanout, Config.Runs config, Metrics metrics, Clock clock, boolean writeEvents,
                       Duration approvalTimeout) {
        this.approvals = new Approvals(sql, clock, approvalTimeout);
        this.store = new RunStore(sql);
        this.log = log;
        this.config = config;
        RunMetrics runMetrics = new RunMetrics(metrics);
        this.journal = new RunJournal(journal, WRITE_ORDER, fanout, runMetrics, config.outageEvents(), writeEvents);
        this.clock = clock;
        metrics.gauge("parley_runs_active", "Agent runs in progress on this instance.", active::size);
        metrics.gauge("parley_run_event_log_delay_seconds",
                "How long the oldest run event waiting to be stored has waited.",
                () -> eventLogDelay().toNanos() / 1e9);
        metrics.gauge("parley_run_events_held",
                "Run events kept in memory because the database is unavailable, waiting to be stored.",
                this.journal::heldEvents);
        // Its own thread, not the process's housekeeping one: runs' timeouts and the polls for stop requests are due on
        // time, and must not wait behind a purge or a sweep stuck on the database.
        // A run's timeout is cancelled when the run ends, long before it is due: taken off the queue at once, it
        // does not keep the ended run reachable for the rest of the timeout (at 1,000 runs a second, hundreds of
        // thousands of them).
        this.scheduler = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().daemon().name("parley-runs").factory());
        this.scheduler.setRemoveOnCancelPolicy(true);
        String instanceId = UUID.randomUUID().toString();
        ConcurrentHashMap<String, ActiveRun> busyThreads = new ConcurrentHashMap<>();
        ConcurrentHashMap<String, String> unrecordedEnds = new ConcurrentHashMap<>();
        RunEnds ends = new RunEnds(store, this.journal, conversations, agent, config, runMetrics, clock, active,
                busyThreads, unrecordedEnds);
        this.starts = new RunStarts(sql, store, this.journal, conversations, agent, config, runMetrics, clock,
                approvals, instanceId, active, busyThreads, scheduler, ends);
        this.stops = new RunStops(store, fanout, clock, instanceId, active);
        this.maintenance = new RunMaintenance(sql, store, log, this.journal, config, runMetrics, clock, active,
                unrecordedEnds);
        this.drain = new RunDrain(starts, active);
        this.stopRequests = fanout.onStopRequest(stops::stopLocally);
        scheduler.scheduleWithFixedDelay(maintenance::quietlyMaintain, 0, maintenance.every().toMillis(),
                TimeUnit.MILLISECONDS);
        scheduler.scheduleWithFixedDelay(stops::quietlyPollStopRequests, STOP_POLL_EVERY.toMillis(),
                STOP_POLL_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Starts a run: creates the thread when none is given (titled with the request's first words), stores the user
     * message and the run, emits {@code agent_started}, and hands the run to the agent on a thread of its own.
     *
     * @throws ProtocolException {@code thread_not_found}, {@code run_in_progress}, {@code message_too_large},
     *                           {@code invalid_message}, or {@code overloaded} while the server shuts down
     */
    public StartedRun start(String userId, StartRequest request) {
        return RunJournal.join(startAsync(userId, request));
    }

    /**
     * Starts a run without waiting for its first commit: a request that is refused outright throws here; the rest
     * completes the future once the thread, the user message, the run and {@code agent_started} are stored (and the
     * agent is running), or fails it with what refused the start. The socket's reader never waits for the database.
     */
    public CompletableFuture<StartedRun> startAsync(String userId, StartRequest request) {
        return starts.startAsync(userId, request);
    }

    /**
     * Queues work on tables of its own (the spend ledger's) for the run journal's next batched transaction; the future
     * completes with its result once committed, or with what it threw: what the ledger's reservations and charges use,
     * so that they are not a second writer beside the journal. The caller's interrupt does not cut the work off.
     */
    public <T> CompletableFuture<T> writeLedger(Sql.Work<T> work) {
        return journal.submitWritesAsync((connection, log) -> work.run(connection));
    }

    /** How long the oldest write waiting for the run journal has waited; what admission control looks at. */
    Duration eventLogDelay() {
        return journal.backlog();
    }

    void startEventWriter() {
        journal.start();
    }

    /**
     * Stops a running run: its agent is interrupted at once, the partial answer is stored, and the run ends with
     * {@code agent_completed} whose status is {@code cancelled}. A run of another instance is asked through the
     * fan-out.
     *
     * @throws ProtocolException {@code run_not_found} (also for someone else's run), {@code run_finished}
     */
    public void stop(String userId, String runId) {
        stops.stop(userId, runId);
    }

    /**
     * Stops the running run of a thread, if any, and waits up to {@code wait} for it to end.
     *
     * @return true when the thread has no running run any more
     */
    public boolean stopRunOnThread(String userId, String threadId, Duration wait) {
        return stops.stopRunOnThread(userId, threadId, wait);
    }

    /** The run, or {@code run_not_found} when it does not exist or belongs to someone else. */
    public RunRecord find(String userId, String runId) {
        return store.find(userId, runId).orElseThrow(RunService::runNotFound);
    }

    /**
     * The run's status as {@code GET /api/runs/{id}} shows it: {@code awaiting_approval} while a running run waits
     * for a person's decision on a tool call, else the stored status.
     */
    public String statusOf(RunRecord run) {
        if (run.status() == RunStatus.RUNNING && approvals.awaiting(run.id())) {
            return "awaiting_approval";
        }
        return run.status().wire();
    }

    /** Decisions on tool calls that wait for a person. */
    public Approvals approvals() {
        return approvals;
    }

    /**
     * The run's events after {@code afterSeq}, in order.
     *
     * @throws ProtocolException {@code run_not_found} (also for someone else's run), {@code events_expired} when the
     *                           run ended longer ago than the retention
     */
    public RunLog log(String userId, String runId, long afterSeq) {
        RunRecord run = find(userId, runId);
        if (run.finishedAt() != null && run.finishedAt().plus(config.eventRetention()).isBefore(clock.instant())) {
            throw new ProtocolException(ErrorCode.EVENTS_EXPIRED, "The events of this run are past retention ("
                    + config.eventRetention().toSeconds() + " s after it ended); reload the thread instead.");
        }
        List<StoredEvent> events = log.read(runId, Math.max(0, afterSeq));
        boolean complete = !events.isEmpty() && EventType.isTerminal(events.getLast().type())
                || run.status().ended() && log.hasTerminalEvent(runId);
        return new RunLog(run, events, complete);
    }

    /** How many runs this instance is running. */
    public int activeRuns() {
        return active.size();
    }

    /**
     * One maintenance pass: renews the leases of this instance's runs, ends the runs whose instance stopped renewing
     * them (with {@code agent_error} {@code service_restart}, retryable), and deletes event logs past retention.
     */
    public void maintain() {
        maintenance.maintain();
    }

    /**
     * Shutdown, first half: refuses new runs, lets the runs in progress finish for up to {@code grace}, then ends
     * the rest with {@code agent_error} {@code service_restart} (retryable) and waits for their final writes.
     */
    public void drain(Duration grace) {
        drain.drain(grace);
    }

    /** Timers waiting on the runs' scheduler: the periodic tasks and the timeouts of runs that have not ended. */
    int pendingTimers() {
        return scheduler.getQueue().size();
    }

    @Override
    public void close() {
        starts.refuseNew();
        stopRequests.close();
        scheduler.shutdownNow();
        journal.close();
    }

    static ProtocolException runNotFound() {
        return new ProtocolException(ErrorCode.RUN_NOT_FOUND, "There is no such run.");
    }
}
