package dev.parley.server.agent;

/**
 * Does the work of one run: reasons, calls tools, streams the answer through {@link AgentRun#emit}, and returns
 * the final answer. The run machinery around it emits {@code agent_started} before and {@code agent_completed} or
 * {@code agent_error} after, stores the messages and the run, and cancels by interrupting the thread that runs
 * {@link #run}: an agent must let {@link InterruptedException} (or an interrupted I/O call) end its work promptly.
 */
public interface Agent {
    /**
     * @return the final answer and the usage it cost
     * @throws InterruptedException when the run was stopped or timed out
     * @throws AgentException when the run failed with a coded error ({@code llm_unavailable}, {@code tool_failed}, ...)
     */
    Answer run(AgentRun run) throws InterruptedException;

    /**
     * Called before a run's start is stored, on the caller's thread: an agent that spends money may refuse the run
     * here (the first call's reservation, {@code budget_exceeded}), so that a refused start stores nothing. Whatever
     * it takes belongs to the run and is given back by {@link #ended}. The offline team takes nothing.
     *
     * @throws dev.parley.protocol.ProtocolException when the run may not start
     */
    default void admit(String userId, String runId, String request) {
    }

    /** Called once for every run that was admitted, after it ended in any way (or its start failed). */
    default void ended(String runId) {
    }

    /** Whether what the agent needs (its model provider) is known to be unreachable; the offline team needs nothing. */
    default boolean unreachable() {
        return false;
    }
}
