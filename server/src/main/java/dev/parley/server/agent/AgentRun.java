package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** What an {@link Agent} sees of the run it works on, and the channel for its events. */
public interface AgentRun {
    String runId();

    String threadId();

    String userId();

    /** The user's message that started the run. */
    String request();

    /** Earlier messages of the thread, oldest first, without the request itself. */
    List<Turn> history();

    /**
     * Appends an event to the run: it gets the next {@code seq} and reaches every socket of the user. Types are
     * {@code agent_thinking}, {@code tool_executing}, {@code tool_completed} and {@code partial_result}; the
     * run machinery emits the first and the last event itself.
     */
    void emit(String agentName, String type, ObjectNode data);

    /**
     * The pause between steps that the client asked for in {@code start_agent}'s {@code settings.step_delay_ms}, so
     * that a person or a validator can watch and interrupt a run; agents that take no steps of their own ignore it.
     */
    default Optional<Duration> requestedStepDelay() {
        return Optional.empty();
    }

    /**
     * Asks a person to approve a tool call before it runs: the run emits {@code approval_required}, waits for the
     * decision (the wait does not count toward the run's timeout), emits {@code approval_resolved} and returns the
     * decision. A stop during the wait throws {@link InterruptedException}; the run then settles the approval as
     * {@code cancelled} itself.
     */
    default ApprovalDecision awaitApproval(String agentName, String toolCallId, String toolName, JsonNode source,
                                           JsonNode parameters) throws InterruptedException {
        throw new IllegalStateException("this run cannot wait for approvals");
    }

    /** Adds the tokens and cost of one model call to the run's usage. */
    void addUsage(Usage usage);

    /** A message of the thread: {@code role} is {@code user} or {@code assistant}. */
    record Turn(String role, String content) {
    }
}
