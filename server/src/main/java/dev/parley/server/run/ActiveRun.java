package dev.parley.server.run;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.agent.AgentRun;
import dev.parley.server.agent.Usage;
import dev.parley.server.fanout.Envelope;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A run in progress on this instance: what its agent sees ({@link AgentRun}) and the one path by which its events
 * are numbered and handed to the {@link RunJournal}, which stores them and then publishes them.
 *
 * <p>Every event of the agent goes through {@link #append} under {@link #lock}: the next {@code seq}, then the
 * journal's queue, in that order, so the run's events reach the journal, and therefore the log and the sockets, in
 * {@code seq} order. The agent does not wait for the database: the journal's writer commits and publishes behind it.
 * The first and the last event are appended by the work that stores the run's start and end ({@link RunService}).
 *
 * <p>How the run ends is decided once, under the same lock ({@link #end}): by a stop, a timeout, a shutdown or an
 * event that could not be stored ({@link #requestEnd}, {@link #logFailed}, which then interrupt the agent's thread),
 * or by the agent returning. The agent's thread does no database work of its own while it may be interrupted; once an
 * ending is set, further agent events are dropped. Fields marked "guarded" are read and written under {@link #lock};
 * {@link #appendedSeq}, {@link #storedSeq} and {@link #logFailure} belong to the journal's writer.
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
    private volatile RuntimeException logFailure; // written by the journal's writer
    private volatile boolean startFailed; // written by the journal's writer
    private long appendedSeq; // the journal's writer's: appended in the transaction under way
    private long storedSeq; // the journal's writer's: committed

    ActiveRun(String runId, String threadId, String userId, String request, boolean continuesThread,
              Optional<Duration> stepDelay, RunJournal journal, Clock clock) {
        this.runId = runId;
        this.threadId = threadId;
        this.userId = userId;
        this.request = request;
        this.continuesThread = continuesThread;
        this.stepDelay = stepDelay;
        this.journal = journal;
        this.clock = clock;
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
                        new OpenToolCall(agentName, data.path("tool_name").asText(), System.nanoTime()));
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

    /** A tool call whose {@code tool_executing} went out and whose {@code tool_completed} did not, yet. */
    private record OpenToolCall(String agentName, String toolName, long startedNanos) {
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
    }

    void rollBackAppended() {
        appendedSeq = storedSeq;
    }

    boolean logBroken() {
        return logFailure != null;
    }

    /** An event of the run could not be stored: the run fails with that cause, and stores nothing more but its end. */
    void logFailed(RuntimeException failure) {
        logFailure = failure;
        lock.lock();
        try {
            if (ending == null) {
                ending = Ending.FAILED;
                if (thread != null) {
                    thread.interrupt();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The run's start could not be stored (its agent starts before that commit): the run does not exist, so nothing
     * more of it is stored, not even its end, and its agent is stopped.
     */
    void startFailed(RuntimeException failure) {
        startFailed = true;
        logFailed(failure);
    }

    boolean startFailed() {
        return startFailed;
    }

    /** Why the run's log stopped taking events, or null. */
    RuntimeException logFailure() {
        return logFailure;
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
