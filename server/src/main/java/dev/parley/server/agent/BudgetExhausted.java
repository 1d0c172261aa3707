package dev.parley.server.agent;

import dev.parley.server.budget.BudgetExceededException;

/**
 * Thrown by an agent when its user's budget cannot cover the run's next model call: the run ends with
 * {@code agent_completed} status {@code budget_exhausted} and the partial answer stored, not with an error.
 */
public final class BudgetExhausted extends RuntimeException {
    public BudgetExhausted(BudgetExceededException cause) {
        super(cause.getMessage(), cause);
    }
}
