package dev.parley.server.run;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.agent.Agent;
import dev.parley.server.agent.AgentRun;
import dev.parley.server.agent.Answer;
import dev.parley.server.agent.BudgetExhausted;
import dev.parley.server.agent.Usage;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ChatMessage;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.conversation.Titles;
import dev.parley.server.db.Ids;
import dev.parley.server.db.Sql;
import dev.parley.server.failure.Failure;
import dev.parley.server.failure.Failures;
import dev.parley.server.fanout.Envelope;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.observe.Metrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>Runs of this instance live in {@link #active}. A maintenance task renews their leases in the database, ends the
 * runs of instances that stopped renewing theirs (a crash), and deletes event logs past their retention.
 */
public final class RunService implements AutoCloseable {
    /** The {@code agent_name} of the events the run machinery emits itself (the first and the last of a run). */
    public static final String RUN_AGENT_NAME = "parley";
    static final int HISTORY_MESSAGES = 40;
    /** The lease a run's instance holds on it unless configured otherwise ({@code PARLEY_RUN_LEASE}). */
    static final Duration LEASE = Config.Runs.DEFAULT_LEASE;
    static final Duration MAX_MAINTENANCE_EVERY = Duration.ofSeconds(10);
    /** How often the database is asked for stop requests that did not arrive over the fan-out. */
    static final Duration STOP_POLL_EVERY = Duration.ofSeconds(1);
    private static final Duration FINAL_WRITES_WAIT = Duration.ofSeconds(5);
    /** What a start refused for load asks the client to wait. */
    static final Duration OVERLOADED_RETRY_AFTER = Duration.ofSeconds(1);
    private static final Logger LOG = LoggerFactory.getLogger(RunService.class);
    /** The order in which the journal writes a batch's rows: every parent before its children. */
    private static final List<String> WRITE_ORDER = List.of(ConversationStore.INSERT_THREAD,
            ConversationStore.COUNT_MESSAGE, RunStore.INSERT_RUN, ConversationStore.INSERT_MESSAGE, RunStore.FINISH_RUN);

    private final Sql sql;
    private final RunStore store;
    private final RunEventLog log;
    private final RunJournal journal;
    private final ConversationStore conversations;
    private final Agent agent;
    private final Fanout fanout;
    private final Config.Runs config;
    private final RunMetrics metrics;
    private final Clock clock;
    private final String instanceId = UUID.randomUUID().toString();
    private final ConcurrentHashMap<String, ActiveRun> active = new ConcurrentHashMap<>();
    /** The threads of {@link #active}'s runs, until each run's end is stored: a second start there is refused here. */
    private final ConcurrentHashMap<String, ActiveRun> busyThreads = new ConcurrentHashMap<>();
    /** Runs of this instance that ended while the database was down: run id to user id, until their end is stored. */
    private final ConcurrentHashMap<String, String> unrecordedEnds = new ConcurrentHashMap<>();
    private final ScheduledExecutorService scheduler;
    private final ThreadFactory agentThreads = Thread.ofVirtual().name("parley-run-", 0).factory();
    private final Fanout.Subscription stopRequests;
    private final Duration lease;
    private final Duration maintenanceEvery;
    private final Approvals approvals;
    private volatile boolean accepting = true;

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
        this.sql = sql;
        this.approvals = new Approvals(sql, clock, approvalTimeout);
        this.store = new RunStore(sql);
        this.log = log;
        this.conversations = conversations;
        this.agent = agent;
        this.fanout = fanout;
        this.config = config;
        this.metrics = new RunMetrics(metrics);
        this.journal = new RunJournal(journal, WRITE_ORDER, fanout, this.metrics, config.outageEvents(), writeEvents);
        this.clock = clock;
        metrics.gauge("parley_runs_active", "Agent runs in progress on this instance.", active::size);
        metrics.gauge("parley_run_event_log_delay_seconds",
                "How long the oldest run event waiting to be stored has waited.",
                () -> eventLogDelay().toNanos() / 1e9);
        metrics.gauge("parley_run_events_held",
                "Run events kept in memory because the database is unavailable, waiting to be stored.",
                this.journal::heldEvents);
        this.scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("parley-runs").factory());
        this.stopRequests = fanout.onStopRequest(this::stopLocally);
        this.lease = config.lease();
        Duration third = lease.dividedBy(3);
        this.maintenanceEvery = third.compareTo(MAX_MAINTENANCE_EVERY) < 0 ? third : MAX_MAINTENANCE_EVERY;
        scheduler.scheduleWithFixedDelay(this::quietlyMaintain, 0, maintenanceEvery.toMillis(), TimeUnit.MILLISECONDS);
        scheduler.scheduleWithFixedDelay(this::quietlyPollStopRequests, STOP_POLL_EVERY.toMillis(),
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
        if (!accepting) {
            throw new ProtocolException(ErrorCode.OVERLOADED, "The server is restarting; send the message again in a moment.");
        }
        // A database known to be down is the reason to give, not the backlog it causes.
        sql.health().requireUp();
        if (!config.maxLogDelay().isZero() && eventLogDelay().compareTo(config.maxLogDelay()) > 0) {
            metrics.refusedOverloaded();
            throw new ProtocolException(ErrorCode.OVERLOADED, "The server is busy; send the message again in a moment.",
                    Map.of("retry_after_ms", OVERLOADED_RETRY_AFTER.toMillis()));
        }
        String text = request.userRequest();
        if (text == null || text.isBlank()) {
            throw new ProtocolException(ErrorCode.INVALID_MESSAGE, "The request text must not be empty.");
        }
        int length = text.codePointCount(0, text.length());
        if (length > config.maxUserRequestChars()) {
            throw new ProtocolException(ErrorCode.MESSAGE_TOO_LARGE, "The request is " + length
                    + " characters long; the limit is " + config.maxUserRequestChars() + ".");
        }
        String runId = Ids.timeOrdered();
        String messageId = Ids.timeOrdered();
        boolean continuesThread = request.threadId() != null;
        String threadId = continuesThread ? request.threadId() : Ids.timeOrdered();
        ActiveRun run = new ActiveRun(runId, threadId, userId, text, continuesThread, request.stepDelay(), journal,
                clock, approvals);
        // A thread of the user's with a run of this instance is refused before anything starts (no agent, no model
        // call); the database decides for runs of other instances and for threads that are not the user's (which
        // it answers thread_not_found, not revealing that someone else's thread is busy).
        ActiveRun busy = busyThreads.putIfAbsent(threadId, run);
        if (busy != null && busy.userId.equals(userId)) {
            throw RunStore.runInProgress();
        }
        Agent.Admission admission;
        try {
            // The agent may refuse the run before anything of it is stored (a spend budget that cannot cover it), or
            // leave that decision to the start's transaction below.
            admission = agent.admit(userId, runId, text);
        } catch (RuntimeException e) {
            busyThreads.remove(threadId, run);
            agent.ended(runId);
            throw e;
        }
        ObjectNode data = Json.object();
        data.put("message_id", messageId);
        data.put("user_request", text);
        Envelope started = run.firstEvent(data);
        Instant now = clock.instant();
        // One transaction, so that a start that fails leaves nothing behind (no empty thread, no run without its
        // first event); it only writes, so its rows join the batches of whatever else the journal stores meanwhile.
        // A thread that is not the user's changes no row when counted, which fails the start with thread_not_found.
        CompletableFuture<ActiveRun> stored;
        try {
            stored = journal.submitWritesAsync((connection, log) -> {
                if (admission != null && run.startRefusal() == null) {
                    run.refuseStart(admission.decision().run(connection));
                }
                if (run.startRefusal() != null) {
                    return null; // refused: nothing of the start is written, nor what its agent emits meanwhile
                }
                if (continuesThread) {
                    conversations.countMessage(log.writes(), userId, threadId, now);
                } else {
                    conversations.createThread(log.writes(), threadId, userId, Titles.fromRequest(text), 1);
                }
                store.insertRunning(log.writes(), runId, threadId, userId, messageId, now, instanceId, now.plus(lease));
                conversations.insertMessage(log.writes(), userId, threadId, messageId, ChatMessage.USER, text, runId,
                        now);
                log.append(run, started, now);
                return run;
            });
        } catch (RuntimeException e) {
            busyThreads.remove(threadId, run); // refused outright (the database is down): nothing was queued
            if (admission != null) {
                admission.settled(false, null);
            }
            agent.ended(runId);
            throw e;
        }
        if (admission != null) {
            stored = stored.handle((committed, failure) -> {
                admission.settled(failure == null && committed != null, committed == null ? run.startRefusal() : null);
                if (failure != null) {
                    throw failure instanceof CompletionException wrapped ? wrapped : new CompletionException(failure);
                }
                if (committed == null) {
                    throw new CompletionException(run.startRefusal());
                }
                return committed;
            });
        }
        // The agent starts now, not after that commit: its events queue behind the start, so they are stored and
        // published after agent_started in any case, and the turn does not wait a commit for its agent. A start that
        // fails stops the agent before anything of it is stored (ActiveRun#startFailed); runs of the journal's thread.
        stored.whenComplete((ignored, failure) -> {
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException wrapped && wrapped.getCause() != null
                        ? wrapped.getCause() : failure;
                run.startFailed(cause instanceof RuntimeException e ? e : new IllegalStateException(cause));
            }
        });
        active.put(runId, run);
        run.armTimeout(config.timeout(), after -> scheduler.schedule(() -> {
            if (run.requestEnd(ActiveRun.Ending.TIMED_OUT)) {
                LOG.info("Run {} of user {} timed out after {}", runId, userId, config.timeout());
            }
        }, after.toNanos(), TimeUnit.NANOSECONDS));
        agentThreads.newThread(() -> execute(run)).start();
        return stored.thenApply(committed -> {
            metrics.started();
            LOG.debug("Run {} started on thread {} for user {}", runId, threadId, userId);
            return new StartedRun(runId, threadId, messageId);
        });
    }

    /**
     * Queues work on tables of its own (the spend ledger's) for the run journal's next batched transaction; the future
     * completes with its result once committed, or with what it threw: what the ledger's reservations and charges use,
     * so that they are not a second writer beside the journal. The caller's interrupt does not cut the work off.
     */
    public <T> CompletableFuture<T> writeLedger(Sql.Work<T> work) {
        return journal.submitApartAsync((connection, log) -> work.run(connection));
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
        ActiveRun run = runId == null ? null : active.get(runId);
        if (run != null && run.userId.equals(userId)) {
            if (!run.requestEnd(ActiveRun.Ending.STOPPED)) {
                throw runFinished();
            }
            LOG.info("Run {} stopped by user {}", runId, userId);
            return;
        }
        RunRecord record = store.find(userId, runId).orElseThrow(RunService::runNotFound);
        if (record.status().ended()) {
            throw runFinished();
        }
        // The flag first: an instance that misses the fan-out's request (Redis down) still finds it.
        store.requestStop(runId, clock.instant());
        fanout.requestStop(runId);
        LOG.info("Run {} stop requested by user {} (running elsewhere)", runId, userId);
    }

    /**
     * Stops the running run of a thread, if any, and waits up to {@code wait} for it to end.
     *
     * @return true when the thread has no running run any more
     */
    public boolean stopRunOnThread(String userId, String threadId, Duration wait) {
        Optional<RunRecord> running = store.findRunningOnThread(userId, threadId);
        if (running.isEmpty()) {
            return true;
        }
        String runId = running.get().id();
        try {
            stop(userId, runId);
        } catch (ProtocolException e) {
            // It ended on its own meanwhile.
        }
        long deadline = System.nanoTime() + wait.toNanos();
        ActiveRun run = active.get(runId);
        if (run != null) {
            try {
                run.done.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        while (System.nanoTime() < deadline) {
            if (store.findRunningOnThread(userId, threadId).isEmpty()) {
                return true;
            }
            try {
                Thread.sleep(50); // a run of another instance: its end shows in the database
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return store.findRunningOnThread(userId, threadId).isEmpty();
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

    private void execute(ActiveRun run) {
        Answer answer = null;
        Exception failure = null;
        boolean exhausted = false;
        try {
            if (run.continuesThread) {
                // Read here, not in the start's transaction, so that the agent starts at once; by the user, so that
                // a thread of someone else gives nothing (and its start fails).
                run.useHistory(conversations.messages(run.userId, run.threadId, HISTORY_MESSAGES, null).stream()
                        .filter(message -> !run.runId.equals(message.runId())) // its own request, once stored
                        .map(message -> new AgentRun.Turn(message.role(), message.content())).toList());
            }
            if (run.attach(Thread.currentThread())) {
                answer = agent.run(run);
            }
        } catch (InterruptedException e) {
            // stopped, timed out or shut down: the ending says which
        } catch (BudgetExhausted e) {
            exhausted = true;
        } catch (Exception e) {
            failure = e;
        } finally {
            ActiveRun.Ending ending = run.end(exhausted ? ActiveRun.Ending.BUDGET_EXHAUSTED
                    : failure == null && answer != null ? ActiveRun.Ending.COMPLETED : ActiveRun.Ending.FAILED);
            agent.ended(run.runId);
            try {
                finish(run, ending, answer, failure);
            } catch (ProtocolException e) {
                if (e.code() != ErrorCode.UPSTREAM_UNAVAILABLE) {
                    throw e;
                }
                // Its end could not even be queued (settling a pending approval needs the database) or the journal
                // closed before the database came back. Its lease is kept, and the next maintenance pass after the
                // database is back ends it with the code that says what happened.
                unrecordedEnds.put(run.runId, run.userId);
                LOG.warn("Run {} ended while the database is unavailable; it will be recorded as {} once it is back",
                        run.runId, ErrorCode.UPSTREAM_UNAVAILABLE.code());
                run.done.complete(RunStatus.FAILED);
            } catch (RuntimeException e) {
                LOG.error("Run {} could not record its end; its lease will run out and it will be ended as failed",
                        run.runId, e);
                run.done.complete(RunStatus.FAILED);
            } finally {
                run.cancelTimeout();
                active.remove(run.runId, run);
                busyThreads.remove(run.threadId, run);
            }
        }
    }

    private void finish(ActiveRun run, ActiveRun.Ending ending, Answer answer, Exception failure) {
        if (run.startFailed()) {
            run.done.complete(RunStatus.FAILED); // the run was never stored: there is nothing to end
            return;
        }
        run.settlePendingApproval();
        run.settleOpenToolCalls(switch (ending) {
            case STOPPED -> "cancelled";
            case TIMED_OUT -> "timeout";
            case SHUTDOWN -> "service_restart";
            case COMPLETED, FAILED, BUDGET_EXHAUSTED -> "the run ended before the tool finished";
        });
        Instant now = clock.instant();
        Usage usage = run.usage();
        switch (ending) {
            case COMPLETED, STOPPED, BUDGET_EXHAUSTED -> {
                RunStatus status = switch (ending) {
                    case COMPLETED -> RunStatus.COMPLETED;
                    case BUDGET_EXHAUSTED -> RunStatus.BUDGET_EXHAUSTED;
                    default -> RunStatus.CANCELLED;
                };
                String text = ending == ActiveRun.Ending.COMPLETED ? answer.text() : run.partialAnswer();
                long elapsed = run.elapsedMillis();
                boolean recorded = journal.submitForRun((connection, log) -> {
                    if (run.startFailed()) {
                        return false; // the start, queued before this, was not stored
                    }
                    ChatMessage stored = conversations.appendMessage(log.writes(), run.userId, run.threadId,
                            ChatMessage.ASSISTANT, text == null ? "" : text, run.runId);
                    store.finish(log.writes(), run.runId, status, now, usage, stored.id(), null, endedElsewhere(run));
                    ObjectNode data = Json.object();
                    data.put("status", status.wire());
                    data.put("final_response", stored.content());
                    data.put("message_id", stored.id());
                    data.set("usage", usageJson(usage));
                    data.put("execution_time_ms", elapsed);
                    log.append(run, run.lastEvent(log.nextSeq(run), EventType.AGENT_COMPLETED, data), now);
                    busyThreads.remove(run.threadId, run); // before the last event is out: the next start may follow
                    return true;
                });
                if (!recorded) {
                    run.done.complete(RunStatus.FAILED); // the run was never stored
                    return;
                }
                metrics.ended(status);
                run.done.complete(status);
                // One line per run that ends well (its start is logged at DEBUG): at thousands of turns a second,
                // a second INFO line per run is a write to the log per run for nothing an operator needs.
                LOG.info("Run {} on thread {} of user {} {} in {} ms", run.runId, run.threadId, run.userId,
                        status.wire(), run.elapsedMillis());
            }
            case TIMED_OUT, FAILED, SHUTDOWN -> {
                Failure why = failure(run, ending, failure == null ? run.logFailure() : failure);
                // A run the database cut off keeps what it answered so far, as a run that is stopped does.
                String partial = why.code() == ErrorCode.UPSTREAM_UNAVAILABLE ? run.partialAnswer() : "";
                long elapsed = run.elapsedMillis();
                boolean recorded = journal.submitForRun((connection, log) -> {
                    if (run.startFailed()) {
                        return false;
                    }
                    String messageId = partial.isEmpty() ? null : conversations.appendMessage(log.writes(),
                            run.userId, run.threadId, ChatMessage.ASSISTANT, partial, run.runId).id();
                    store.finish(log.writes(), run.runId, RunStatus.FAILED, now, usage, messageId, why.code().code(),
                            endedElsewhere(run));
                    log.append(run, run.lastEvent(log.nextSeq(run), EventType.AGENT_ERROR, errorData(why, elapsed)),
                            now);
                    busyThreads.remove(run.threadId, run);
                    return true;
                });
                if (recorded) {
                    metrics.ended(RunStatus.FAILED);
                }
                run.done.complete(RunStatus.FAILED);
            }
        }
    }

    /** The run's end is stored only by whoever moves it out of running; anyone else rolls back with this. */
    private static Supplier<IllegalStateException> endedElsewhere(ActiveRun run) {
        return () -> new IllegalStateException("run " + run.runId + " was already ended by another instance");
    }

    private Failure failure(ActiveRun run, ActiveRun.Ending ending, Exception failure) {
        return switch (ending) {
            case TIMED_OUT -> Failure.of(ErrorCode.TIMEOUT, "The run took longer than "
                    + config.timeout().toSeconds() + " s and was stopped.");
            case SHUTDOWN -> Failure.of(ErrorCode.SERVICE_RESTART,
                    "The server restarted during the run; send the message again.");
            default -> {
                if (failure instanceof ProtocolException coded) { // an AgentException too
                    LOG.warn("Run {} failed: {} ({})", run.runId, coded.code().code(), coded.getMessage());
                    yield Failures.coded(coded, null);
                }
                yield Failures.internal(failure != null ? failure
                        : new IllegalStateException("the agent returned no answer"), null, LOG, "Run " + run.runId);
            }
        };
    }

    private static ObjectNode errorData(Failure why, long elapsedMillis) {
        ObjectNode error = Json.object();
        error.put("code", why.code().code());
        error.put("message", why.message() == null || why.message().isBlank() ? why.code().meaning() : why.message());
        if (why.requestId() != null) {
            error.put("request_id", why.requestId());
        }
        ObjectNode data = Json.object();
        data.set("error", error);
        data.put("retryable", why.retryable());
        data.put("execution_time_ms", elapsedMillis);
        return data;
    }

    private static ObjectNode usageJson(Usage usage) {
        ObjectNode node = Json.object();
        node.put("input_tokens", usage.inputTokens());
        node.put("output_tokens", usage.outputTokens());
        node.put("cost_usd", usage.costUsd());
        return node;
    }

    private void stopLocally(String runId) {
        ActiveRun run = active.get(runId);
        if (run != null && run.requestEnd(ActiveRun.Ending.STOPPED)) {
            LOG.info("Run {} stopped on request from another instance", runId);
        }
    }

    /**
     * One maintenance pass: renews the leases of this instance's runs, ends the runs whose instance stopped renewing
     * them (with {@code agent_error} {@code service_restart}, retryable), and deletes event logs past retention.
     */
    public void maintain() {
        Instant now = clock.instant();
        List<String> ours = new ArrayList<>(active.keySet());
        ours.addAll(unrecordedEnds.keySet());
        if (!ours.isEmpty()) {
            store.renewLeases(ours, now.plus(lease));
        }
        for (Map.Entry<String, String> unrecorded : List.copyOf(unrecordedEnds.entrySet())) {
            store.find(unrecorded.getValue(), unrecorded.getKey()).ifPresent(run -> end(run, Failure.of(
                    ErrorCode.UPSTREAM_UNAVAILABLE, "The database was unavailable while this request ran; send the"
                    + " message again.")));
            unrecordedEnds.remove(unrecorded.getKey());
        }
        // A lease that ran out while the database was down says nothing of its instance, which could not renew it:
        // every live instance renews its runs' leases within a lease of the database's return, so only then is a
        // run whose lease ran out taken for one whose instance is gone.
        if (sql.health().answeringFor().compareTo(lease) >= 0) {
            for (RunRecord abandoned : store.abandoned(now)) {
                if (!active.containsKey(abandoned.id()) && !unrecordedEnds.containsKey(abandoned.id())) {
                    end(abandoned, Failure.of(ErrorCode.SERVICE_RESTART,
                            "The server that ran this request stopped; send the message again."));
                }
            }
        }
        int purged = log.purge(now.minus(config.eventRetention()));
        if (purged > 0) {
            LOG.info("Purged {} run events past retention", purged);
        }
    }

    /**
     * Ends a run that no agent is running any more (its instance is gone, or it ended while the database was down):
     * marks it failed and appends its {@code agent_error} after its last stored event in one transaction, so that
     * nobody sees the run failed without its last event, and only one instance ends it.
     */
    private void end(RunRecord run, Failure why) {
        // The end and the last event together, as a run of this instance stores them.
        boolean ended = journal.submit((connection, log) -> {
            Instant now = clock.instant();
            if (!store.finish(connection, run.id(), RunStatus.FAILED, now, run.usage(), null, why.code().code())) {
                return false; // another instance ended it first
            }
            // A call that waited for a person never runs now: its approval is settled with the run's end.
            for (String approvalId : Approvals.cancelPending(connection, run.id(), now)) {
                ServerEvent resolved = new ServerEvent(EventType.APPROVAL_RESOLVED, now,
                        Approvals.resolvedData(approvalId, Approvals.CANCELLED), run.threadId(), run.id(),
                        log.nextSeq(run.id()), RUN_AGENT_NAME);
                log.append(run.userId(), Envelope.of(resolved), now);
            }
            ServerEvent event = new ServerEvent(EventType.AGENT_ERROR, now, errorData(why, 0), run.threadId(),
                    run.id(), log.nextSeq(run.id()), RUN_AGENT_NAME);
            log.append(run.userId(), Envelope.of(event), now);
            return true;
        });
        if (!ended) {
            return;
        }
        metrics.ended(RunStatus.FAILED);
        LOG.warn("Run {} of user {} is now failed: {}", run.id(), run.userId(), why.code().code());
    }

    /** Stops the runs of this instance that were asked to stop through the database. */
    private void quietlyPollStopRequests() {
        if (active.isEmpty()) {
            return;
        }
        try {
            for (String runId : store.stopRequested(instanceId)) {
                stopLocally(runId);
            }
        } catch (RuntimeException e) {
            LOG.debug("Polling stop requests failed: {}", e.toString());
        }
    }

    private void quietlyMaintain() {
        try {
            maintain();
        } catch (RuntimeException e) {
            LOG.warn("Run maintenance failed; will retry in {} ms", maintenanceEvery.toMillis(), e);
        }
    }

    /**
     * Shutdown, first half: refuses new runs, lets the runs in progress finish for up to {@code grace}, then ends
     * the rest with {@code agent_error} {@code service_restart} (retryable) and waits for their final writes.
     */
    public void drain(Duration grace) {
        accepting = false;
        List<ActiveRun> running = List.copyOf(active.values());
        if (running.isEmpty()) {
            return;
        }
        LOG.info("Waiting up to {} ms for {} run(s) to finish", grace.toMillis(), running.size());
        awaitAll(running, grace);
        // A run that has settled its ending (done) may still be in `active` for a moment: it is not left over.
        List<ActiveRun> left = active.values().stream().filter(run -> !run.done.isDone()).toList();
        for (ActiveRun run : left) {
            run.requestEnd(ActiveRun.Ending.SHUTDOWN);
        }
        if (!left.isEmpty()) {
            LOG.warn("Ended {} run(s) still in progress at shutdown", left.size());
            awaitAll(left, FINAL_WRITES_WAIT);
        }
    }

    private static void awaitAll(List<ActiveRun> runs, Duration wait) {
        CompletableFuture<?>[] futures = runs.stream().map(run -> run.done).toArray(CompletableFuture[]::new);
        try {
            CompletableFuture.allOf(futures).get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // what is left is handled by the caller
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        accepting = false;
        stopRequests.close();
        scheduler.shutdownNow();
        journal.close();
    }

    static ProtocolException runNotFound() {
        return new ProtocolException(ErrorCode.RUN_NOT_FOUND, "There is no such run.");
    }

    private static ProtocolException runFinished() {
        return new ProtocolException(ErrorCode.RUN_FINISHED, "The run has already finished.");
    }
}
