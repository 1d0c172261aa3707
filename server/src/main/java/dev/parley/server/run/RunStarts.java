package dev.parley.server.run;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.agent.Agent;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ChatMessage;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.conversation.Titles;
import dev.parley.server.db.Ids;
import dev.parley.server.db.Sql;
import dev.parley.server.fanout.Envelope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starting runs ({@link RunService#startAsync}): admission (shutdown, a database known to be down, the run journal's
 * backlog, the request's text, a busy thread of this instance, the agent's own admission), then the start's one
 * journal unit (thread, user message, run, {@code agent_started}), the run's timeout, and its agent's virtual thread,
 * which {@link RunEnds} runs.
 *
 * <p>Threads: {@link #startAsync} runs on the caller's thread (a socket's reader or an HTTP handler) and never waits
 * for the database; what follows the start's commit runs on the journal's writer; a timeout fires on the runs'
 * scheduler. {@link #accepting} is written by {@link RunDrain} and {@link RunService#close} from any thread.
 */
final class RunStarts {
    /** What a start refused for load asks the client to wait. */
    static final Duration OVERLOADED_RETRY_AFTER = Duration.ofSeconds(1);
    /** Logs as {@link RunService}: the run machinery's lines keep one logger name whichever part writes them. */
    private static final Logger LOG = LoggerFactory.getLogger(RunService.class);

    private final Sql sql;
    private final RunStore store;
    private final RunJournal journal;
    private final ConversationStore conversations;
    private final Agent agent;
    private final Config.Runs config;
    private final RunMetrics metrics;
    private final Clock clock;
    private final Approvals approvals;
    private final String instanceId;
    private final Duration lease;
    private final ConcurrentHashMap<String, ActiveRun> active;
    /** The threads of {@link #active}'s runs, until each run's end is stored: a second start there is refused here. */
    private final ConcurrentHashMap<String, ActiveRun> busyThreads;
    private final ScheduledExecutorService scheduler;
    private final RunEnds ends;
    private final ThreadFactory agentThreads = Thread.ofVirtual().name("parley-run-", 0).factory();
    private volatile boolean accepting = true;

    RunStarts(Sql sql, RunStore store, RunJournal journal, ConversationStore conversations, Agent agent,
              Config.Runs config, RunMetrics metrics, Clock clock, Approvals approvals, String instanceId,
              ConcurrentHashMap<String, ActiveRun> active, ConcurrentHashMap<String, ActiveRun> busyThreads,
              ScheduledExecutorService scheduler, RunEnds ends) {
        this.sql = sql;
        this.store = store;
        this.journal = journal;
        this.conversations = conversations;
        this.agent = agent;
        this.config = config;
        this.metrics = metrics;
        this.clock = clock;
        this.approvals = approvals;
        this.instanceId = instanceId;
        this.lease = config.lease();
        this.active = active;
        this.busyThreads = busyThreads;
        this.scheduler = scheduler;
        this.ends = ends;
    }

    CompletableFuture<StartedRun> startAsync(String userId, StartRequest request) {
        if (!accepting) {
            throw new ProtocolException(ErrorCode.OVERLOADED, "The server is restarting; send the message again in a moment.");
        }
        // A database known to be down is the reason to give, not the backlog it causes.
        sql.health().requireUp();
        if (!config.maxLogDelay().isZero() && journal.backlog().compareTo(config.maxLogDelay()) > 0) {
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
        agentThreads.newThread(() -> ends.execute(run)).start();
        return stored.thenApply(committed -> {
            metrics.started();
            LOG.debug("Run {} started on thread {} for user {}", runId, threadId, userId);
            return new StartedRun(runId, threadId, messageId);
        });
    }

    /** From now on every start is refused with {@code overloaded}: the server is shutting down. */
    void refuseNew() {
        accepting = false;
    }
}
