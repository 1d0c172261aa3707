package dev.parley.server.agent;

import dev.parley.server.db.Sql;

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
     * here (the first call's reservation, {@code budget_exceeded}), so that a refused start stores nothing, or leave
     * that decision to the transaction that stores the start (the {@link Admission} it returns), so that the start
     * waits for one commit, not two. Whatever it takes belongs to the run and is given back by {@link #ended}. The
     * offline team takes nothing.
     *
     * @return what the start's transaction must still decide, or null when nothing is left to decide
     * @throws dev.parley.protocol.ProtocolException when the run may not start
     */
    default Admission admit(String userId, String runId, String request) {
        return null;
    }

    /**
     * A run's admission decided inside the transaction that stores its start, before anything of the start is written
     * there. Its work touches only tables of the agent's own (the spend ledger's), and leaves the same result when run
     * again after a rollback.
     */
    interface Admission {
        /**
         * The work that decides, on the start's connection: it returns null to admit the run (what it wrote is
         * committed with the start), or why it refuses the run; the start then stores nothing and fails with that.
         */
        Sql.Work<? extends RuntimeException> decision();

        /**
         * Called once the start's transaction is over, quickly (on the thread that stores starts): {@code admitted}
         * true when it committed with the run admitted; false when the decision refused the run ({@code refusal}, its
         * answer) or the start failed ({@code refusal} null).
         */
        void settled(boolean admitted, RuntimeException refusal);
    }

    /** Called once for every run that was admitted, after it ended in any way (or its start failed). */
    default void ended(String runId) {
    }

    /** Whether what the agent needs (its model provider) is known to be unreachable; the offline team needs nothing. */
    default boolean unreachable() {
        return false;
    }
}
