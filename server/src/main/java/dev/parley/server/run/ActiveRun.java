package dev.parley.server.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.agent.AgentRun;
import dev.parley.server.agent.ApprovalDecision;
import dev.parley.server.agent.Usage;
import dev.parley.server.db.Ids;
import dev.parley.server.fanout.Envelope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * A run in progress on this instance: what its agent sees ({@link AgentRun}) and the one path by which its events
 * are numbered and handed to the {@link RunJournal}, which stores them and then publishes them.
 *
 * <p>Every event of the agent goes through {@link #append} under {@link #lock}: the next {@code seq}, then the
 * journal's queue, in that order, so the run's events reach the journal, and therefore the log and the sockets, in
 * {@code seq} order. The agent does not wait for the database: the journal's writer commits and publishes behind it.
 * The first and the last event are appended by the work that stores the run's start and end ({@link RunStarts},
 * {@link RunEnds}).
 *
 * <p>How the run ends is decided once, under the same lock ({@link #end}): by a stop, a timeout, a shutdown, an
 * event that could not be stored or more events held than the run may keep while the database is down
 * ({@link #requestEnd}, {@link #logFailed}, {@link #outOfRoom}, which then interrupt the agent's thread),
 * or by the agent returning. The agent's thread does no database work of its own while it may be interrupted; once an
 * ending is set, further agent events are dropped. Fields marked "guarded" are read and written under {@link #lock};
 * {@link #appendedSeq}, {@link #storedSeq} and {@link #logFailure} belong to the journal's writer.
 *
 * <p>It is one class of over 500 lines because its parts (numbering, the ending, open tool calls, the pending approval,
 * the paused timeout) are decided together under that one lock: apart, each would need the others' guarded state.
 */
final class ActiveRun implements AgentRun {
    /** How a run ends. */
    enum Ending { COMPLETED, STOPPED, TIMED_OUT, FAILED, SHUTDOWN, BUDGET_EXHAUSTED }

    static final Set<String> AGENT_EVENT_TYPES = Set.of(EventType.AGENT_THINKING, EventType.TOOL_EXECUTING,
            EventType.TOOL_COMPLETED, EventType.PARTIAL_RESULT, EventType.COST_UPDATED, EventType.BUDGET_WARNING);

    final String runId;
    final String threadId;
    final String userId;
    final String request;
    final boolean continuesThread;
    private volatile List<Turn> history = List.of(); // set by the agent's thread before the agent runs
    private final Optional<Duration> stepDelay;
    final long startedNanos = System.nanoTime();
    final CompletableFuture<RunStatus> done = new CompletableFuture<>();

    private final RunJournal journal;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();

    private long seq; // guarded
    private Ending ending; // guarded
    private Thread thread; // guarded: the agent's thread while it runs
    private final StringBuilder partial = new StringBuilder(); // guarded
    private final Map<String, OpenToolCall> openToolCalls = new LinkedHashMap<>(); // guarded
    private Usage usage = Usage.ZERO; // guarded
    private volatile ScheduledFuture<?> timeout;
    private Function<Duration, ScheduledFuture<?>> timeoutScheduler; // guarded
    private long timeoutDeadlineNanos; // guarded
    private long timeoutLeftNanos; // guarded: while waiting for an approval, what is left of the run's time
    private PendingApproval pendingApproval; // guarded: the approval the agent waits for, until it is settled
    private final Approvals approvals;
    private volatile RuntimeException logFailure; // written by the journal's writer
    private volatile boolean startFailed; // written by the journal's writer
    private volatile RuntimeException startRefusal; // written by the journal's writer
    private long appendedSeq; // the journal's writer's: appended in the transaction under way
    private long storedSeq; // the journal's writer's: committed
    private boolean commitInDoubt; // the journal's writer's: a commit with its events failed with its connection
    private int heldEvents; // the journal's writer's: events held while the database is down
    private long heldChars; // the journal's writer's: their bodies' length
    private volatile RuntimeException outOfRoom; // written by the journal's writer

    ActiveRun(String runId, String threadId, String userId, String request, boolean continuesThread,
              Optional<Duration> stepDelay, RunJournal journal, Clock clock, Approvals approvals) {
        this.runId = runId;
        this.threadId = threadId;
        this.userId = userId;
        this.request = request;
        this.continuesThread = continuesThread;
        this.stepDelay = stepDelay;
        this.journal = journal;
        this.clock = clock;
        this.approvals = approvals;
    }

    @Override
    public String runId() {
        return runId;
    }

    @Override
    public String threadId() {
        return threadId;
    }

    @Override
    public String userId() {
        return userId;
    }

    @Override
    public String request() {
        return request;
    }

    @Override
    public List<Turn> history() {
        return history;
    }

    /** The thread's earlier messages, oldest first, for the agent; set on the agent's thread before it runs. */
    void useHistory(List<Turn> earlier) {
        history = List.copyOf(earlier);
    }

    @Override
    public void emit(String agentName, String type, ObjectNode data) {
        if (!AGENT_EVENT_TYPES.contains(type)) {
            throw new IllegalArgumentException("an agent may not emit '" + type + "'; it may emit " + AGENT_EVENT_TYPES);
        }
        lock.lock();
        try {
            if (ending != null) {
                return; // the run is ending: what the agent still says is not part of it
            }
            append(agentName, type, data);
            switch (type) {
                case EventType.PARTIAL_RESULT -> partial.append(data.path("delta").asText(""));
                case EventType.TOOL_EXECUTING -> openToolCalls.put(data.path("tool_call_id").asText(),
                        new OpenToolCall(agentName, data.path("tool_name").asText(), data.get("source"),
                                System.nanoTime()));
                case EventType.TOOL_COMPLETED -> openToolCalls.remove(data.path("tool_call_id").asText());
                default -> {
                }
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Optional<Duration> requestedStepDelay() {
        return stepDelay;
    }

    @Override
    public void addUsage(Usage more) {
        lock.lock();
        try {
            usage = usage.plus(more);
        } finally {
            lock.unlock();
        }
    }

    /** An approval the agent waits for: settled by the agent once it hears the decision, or by the run's end. */
    private record PendingApproval(String approvalId, String agentName) {
    }

    /**
     * Stores the approval with its {@code approval_required} (one transaction, numbered like every event), waits for
     * the decision without the wait counting toward the run's timeout, then stores {@code approval_resolved} and waits
     * for that too, so that a call runs only after its approval is in the run's log. An approved call is claimed in the
     * database before it is reported approved, so that it runs at most once.
     */
    @Override
    public ApprovalDecision awaitApproval(String agentName, String toolCallId, String toolName, JsonNode source,
                                          JsonNode parameters) throws InterruptedException {
        String approvalId = Ids.timeOrdered();
        Instant now = clock.instant();
        Instant expiresAt = now.plus(approvals.timeout());
        ObjectNode data = Json.object();
        data.put("approval_id", approvalId);
        data.put("tool_call_id", toolCallId);
        data.put("tool_name", toolName);
        data.set("source", source);
        data.set("parameters", parameters);
        data.put("expires_at", ServerEvent.formatTimestamp(expiresAt));
        CompletableFuture<Void> signal = approvals.listen(approvalId);
        CompletableFuture<Object> stored;
        lock.lock();
        try {
            if (ending != null) {
                approvals.forget(approvalId);
                throw new InterruptedException("the run is ending");
            }
            long next = seq + 1;
            ServerEvent event = new ServerEvent(EventType.APPROVAL_REQUIRED, now, data, threadId, runId, next,
                    agentName);
            Envelope envelope = Envelope.of(event);
            // Held with the run's events while the database is down: its seq is taken now, so it must be stored.
            stored = journal.submitForRunAsync((connection, log) -> {
                approvals.insert(log.writes(), approvalId, this, toolCallId, toolName, parameters, now, expiresAt);
                log.append(this, envelope, now);
                return null;
            });
            seq = next;
            pendingApproval = new PendingApproval(approvalId, agentName);
            pauseTimeout();
        } catch (RuntimeException e) {
            approvals.forget(approvalId);
            throw e;
        } finally {
            lock.unlock();
        }
        try {
            try {
                stored.get();
            } catch (ExecutionException e) {
                lock.lock();
                try {
                    pendingApproval = null; // never stored: there is nothing to settle
                } finally {
                    lock.unlock();
                }
                throw new IllegalStateException("the approval could not be stored", e.getCause());
            }
            String status = approvals.await(approvalId, expiresAt, signal);
            if (Approvals.APPROVED.equals(status) && !approvals.claim(approvalId)) {
                throw new IllegalStateException("approval " + approvalId + " was approved but claimed before");
            }
            ApprovalDecision decision = switch (status) {
                case Approvals.APPROVED -> ApprovalDecision.APPROVED;
                case Approvals.REJECTED -> ApprovalDecision.REJECTED;
                case Approvals.EXPIRED -> ApprovalDecision.EXPIRED;
                default -> throw new InterruptedException("the approval was cancelled");
            };
            CompletableFuture<Object> resolution;
            lock.lock();
            try {
                if (ending != null) {
                    throw new InterruptedException("the run is ending"); // its end settles the approval
                }
                pendingApproval = null;
                long next = seq + 1;
                Instant at = clock.instant();
                Envelope event = Envelope.of(new ServerEvent(EventType.APPROVAL_RESOLVED, at,
                        resolved(approvalId, status), threadId, runId, next, agentName));
                resolution = journal.submitForRunAsync((connection, log) -> {
                    log.append(this, event, at);
                    return null;
                });
                seq = next;
                resumeTimeout();
            } finally {
                lock.unlock();
            }
            // The call runs only once its approval_resolved is stored, so that an instance that dies while it runs
            // leaves a log that says it was approved.
            try {
                resolution.get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("the approval's resolution could not be stored", e.getCause());
            }
            return decision;
        } finally {
            approvals.forget(approvalId);
        }
    }

    private static ObjectNode resolved(String approvalId, String decision) {
        return Approvals.resolvedData(approvalId, decision);
    }

    /**
     * Settles the approval the agent was waiting for when the run ended (stop, timeout, failure) as {@code cancelled},
     * unless a decision came first, and emits its {@code approval_resolved}. Called by the run's own thread, after
     * {@link #end}.
     */
    void settlePendingApproval() {
        PendingApproval pending;
        lock.lock();
        try {
            pending = pendingApproval;
            pendingApproval = null;
        } finally {
            lock.unlock();
        }
        if (pending == null) {
            return;
        }
        String settled = approvals.cancel(pending.approvalId());
        emitOwn(pending.agentName(), EventType.APPROVAL_RESOLVED, resolved(pending.approvalId(), settled));
    }

    /** A tool call whose {@code tool_executing} went out and whose {@code tool_completed} did not, yet. */
    private record OpenToolCall(String agentName, String toolName, JsonNode source, long startedNanos) {
    }

    /**
     * Completes, with status {@code error}, every tool call the agent started and did not finish before the run
     * ended early, so that each {@code tool_executing} a client saw is paired with a {@code tool_completed}.
     */
    void settleOpenToolCalls(String reason) {
        lock.lock();
        try {
            openToolCalls.forEach((callId, call) -> {
                ObjectNode data = Json.object();
                data.put("tool_call_id", callId);
                data.put("tool_name", call.toolName());
                if (call.source() != null) {
                    data.set("source", call.source());
                }
                data.set("result", Json.object().put("error", reason));
                data.put("execution_time_ms", (System.nanoTime() - call.startedNanos()) / 1_000_000);
                data.put("status", "error");
                append(call.agentName(), EventType.TOOL_COMPLETED, data);
            });
            openToolCalls.clear();
        } finally {
            lock.unlock();
        }
    }

    /** Appends an event that the run machinery itself emits (the first and the last), whatever the ending. */
    void emitOwn(String agentName, String type, ObjectNode data) {
        lock.lock();
        try {
            append(agentName, type, data);
        } finally {
            lock.unlock();
        }
    }

    /** The run's first event, {@code agent_started}, for the work that stores the run to append. */
    Envelope firstEvent(ObjectNode data) {
        lock.lock();
        try {
            seq = 1;
            return Envelope.of(new ServerEvent(EventType.AGENT_STARTED, clock.instant(), data, threadId, runId, seq,
                    RunService.RUN_AGENT_NAME));
        } finally {
            lock.unlock();
        }
    }

    /** The run's last event, numbered after everything stored for it, for the work that stores its end to append. */
    Envelope lastEvent(long nextSeq, String type, ObjectNode data) {
        lock.lock();
        try {
            seq = nextSeq;
            return Envelope.of(new ServerEvent(type, clock.instant(), data, threadId, runId, nextSeq,
                    RunService.RUN_AGENT_NAME));
        } finally {
            lock.unlock();
        }
    }

    private void append(String agentName, String type, ObjectNode data) {
        long next = seq + 1;
        ServerEvent event = new ServerEvent(type, clock.instant(), data, threadId, runId, next, agentName);
        seq = next;
        journal.append(this, Envelope.of(event), event.timestamp());
    }

    // ---- the journal's writer's side ----

    long appendedSeq() {
        return appendedSeq;
    }

    void appended(long seq) {
        appendedSeq = seq;
    }

    void commitAppended() {
        storedSeq = appendedSeq;
        commitInDoubt = false;
    }

    /** A transaction that appended the run's events lost its connection: it may or may not have committed. */
    void markCommitInDoubt() {
        commitInDoubt = true;
    }

    /** Whether the run's log must be read before its next event is written ({@link #markCommitInDoubt()}). */
    boolean commitInDoubt() {
        return commitInDoubt;
    }

    void rollBackAppended() {
        appendedSeq = storedSeq;
    }

    boolean logBroken() {
        return logFailure != null || startRefusal != null;
    }

    /** Counts events the journal holds for the run while the database is down in ({@code sign} 1) or out (-1). */
    void held(int sign, int chars) {
        heldEvents += sign;
        heldChars += sign * (long) chars;
    }

    int heldEvents() {
        return heldEvents;
    }

    long heldChars() {
        return heldChars;
    }

    /**
     * The run holds as much as it may while the database is down: it ends with that cause, and what it emitted so far
     * (all of it held) is stored with its end once the database is back.
     */
    void outOfRoom(RuntimeException cause) {
        lock.lock();
        try {
            if (ending == null) {
                outOfRoom = cause;
                requestEnd(Ending.FAILED);
            }
        } finally {
            lock.unlock();
        }
    }

    /** An event of the run could not be stored: the run fails with that cause, and stores nothing more but its end. */
    void logFailed(RuntimeException failure) {
        logFailure = failure;
        requestEnd(Ending.FAILED);
    }

    /**
     * The run's start could not be stored (its agent starts before that commit): the run does not exist, so nothing
     * more of it is stored, not even its end, and its agent is stopped.
     */
    void startFailed(RuntimeException failure) {
        startFailed = true;
        logFailed(failure);
    }

    /** Whether the run's start failed or was refused: nothing of it is stored. */
    boolean startFailed() {
        return startFailed || startRefusal != null;
    }

    /**
     * What the start's own transaction decided about the run's admission (its agent's, such as a spend budget): null
     * admits it; a refusal means nothing of it is stored, not even the events its agent queued meanwhile, and
     * {@link #startFailed} stops the agent once that transaction is over. A refusal stays if the transaction is
     * written again, so that the run stays refused.
     */
    void refuseStart(RuntimeException refusal) {
        startRefusal = refusal;
    }

    /** Why the start's transaction refused the run, or null. */
    RuntimeException startRefusal() {
        return startRefusal;
    }

    /** Why the run's log stopped taking events, or why it could hold no more of them; null when neither. */
    RuntimeException logFailure() {
        return logFailure != null ? logFailure : outOfRoom;
    }

    /** Marks the agent's thread; false when the run already has an ending and the agent should not start. */
    boolean attach(Thread agentThread) {
        lock.lock();
        try {
            if (ending != null) {
                return false;
            }
            thread = agentThread;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Ends the run early (stop, timeout, shutdown) and interrupts its agent; false when it already has an ending. */
    boolean requestEnd(Ending why) {
        lock.lock();
        try {
            if (ending != null) {
                return false;
            }
            ending = why;
            if (thread != null) {
                thread.interrupt();
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Called by the agent's thread when the agent is done: settles the ending ({@code proposed} unless one was
     * already requested), detaches the thread and clears its interrupt so that the final writes run undisturbed.
     */
    Ending end(Ending proposed) {
        lock.lock();
        try {
            if (ending == null) {
                ending = proposed;
            }
            thread = null;
            Thread.interrupted();
            return ending;
        } finally {
            lock.unlock();
        }
    }

    String partialAnswer() {
        lock.lock();
        try {
            return partial.toString();
        } finally {
            lock.unlock();
        }
    }

    Usage usage() {
        lock.lock();
        try {
            return usage;
        } finally {
            lock.unlock();
        }
    }

    void timeout(ScheduledFuture<?> future) {
        this.timeout = future;
    }

    /** Schedules the run's timeout through {@code scheduler}, which can schedule it again after a pause. */
    void armTimeout(Duration after, Function<Duration, ScheduledFuture<?>> scheduler) {
        lock.lock();
        try {
            timeoutScheduler = scheduler;
            timeoutDeadlineNanos = System.nanoTime() + after.toNanos();
            timeout = scheduler.apply(after);
        } finally {
            lock.unlock();
        }
    }

    /** Stops the run's clock while it waits for a person (guarded). */
    private void pauseTimeout() {
        if (timeoutScheduler == null) {
            return;
        }
        ScheduledFuture<?> future = timeout;
        if (future != null) {
            future.cancel(false);
        }
        timeoutLeftNanos = Math.max(0, timeoutDeadlineNanos - System.nanoTime());
    }

    /** Starts the run's clock again with what was left of it (guarded). */
    private void resumeTimeout() {
        if (timeoutScheduler == null) {
            return;
        }
        timeoutDeadlineNanos = System.nanoTime() + timeoutLeftNanos;
        timeout = timeoutScheduler.apply(Duration.ofNanos(timeoutLeftNanos));
    }

    void cancelTimeout() {
        ScheduledFuture<?> future = timeout;
        if (future != null) {
            future.cancel(false);
        }
    }

    long elapsedMillis() {
        return (System.nanoTime() - startedNanos) / 1_000_000;
    }
}
