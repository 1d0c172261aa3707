package dev.parley.server.run;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.agent.Agent;
import dev.parley.server.agent.AgentRun;
import dev.parley.server.agent.Answer;
import dev.parley.server.agent.BudgetExhausted;
import dev.parley.server.agent.Usage;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ChatMessage;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.failure.Failure;
import dev.parley.server.failure.Failures;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A run of this instance from its agent to its stored end: reads the thread's history, runs the agent, and ends the
 * run as it ended (completed, stopped, out of budget: the answer stored and {@code agent_completed}; timed out,
 * failed, shut down: the failure translated through {@link Failures} and {@code agent_error}), in one journal unit
 * with the run's status and usage. A run whose end cannot be queued while the database is down is left to
 * {@link RunMaintenance} through {@link #unrecordedEnds}.
 *
 * <p>Threads: {@link #execute} is the body of the run's own virtual thread, which also queues the run's end; the end's
 * journal unit runs on the journal's writer. {@link #errorData} is shared with {@link RunMaintenance}.
 */
final class RunEnds {
    static final int HISTORY_MESSAGES = 40;
    /** Logs as {@link RunService}: the run machinery's lines keep one logger name whichever part writes them. */
    private static final Logger LOG = LoggerFactory.getLogger(RunService.class);

    private final RunStore store;
    private final RunJournal journal;
    private final ConversationStore conversations;
    private final Agent agent;
    private final Config.Runs config;
    private final RunMetrics metrics;
    private final Clock clock;
    private final ConcurrentHashMap<String, ActiveRun> active;
    private final ConcurrentHashMap<String, ActiveRun> busyThreads;
    /** Runs of this instance that ended while the database was down: run id to user id, until their end is stored. */
    private final ConcurrentHashMap<String, String> unrecordedEnds;

    RunEnds(RunStore store, RunJournal journal, ConversationStore conversations, Agent agent, Config.Runs config,
            RunMetrics metrics, Clock clock, ConcurrentHashMap<String, ActiveRun> active,
            ConcurrentHashMap<String, ActiveRun> busyThreads, ConcurrentHashMap<String, String> unrecordedEnds) {
        this.store = store;
        this.journal = journal;
        this.conversations = conversations;
        this.agent = agent;
        this.config = config;
        this.metrics = metrics;
        this.clock = clock;
        this.active = active;
        this.busyThreads = busyThreads;
        this.unrecordedEnds = unrecordedEnds;
    }

    /** The body of the run's own virtual thread: runs the agent, then records how the run ended. */
    void execute(ActiveRun run) {
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

    static ObjectNode errorData(Failure why, long elapsedMillis) {
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
}
