package dev.parley.server.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.server.budget.BudgetExceededException;
import dev.parley.server.budget.Budgets;
import dev.parley.server.budget.CallPricing;
import dev.parley.server.budget.Charge;
import dev.parley.server.budget.Hold;
import dev.parley.server.budget.Money;
import java.math.BigDecimal;
import java.time.LocalDate;

/**
 * The budget side of one run of a language model: the user's limit (read once, when the run is admitted), the hold
 * of the call in flight, and what the run's calls cost so far. Each call is reserved before its request is sent
 * ({@link #reserve}), then charged ({@link #charge}) or, when it was stopped or failed, released ({@link #release}).
 * The hold taken when the run was admitted serves its first call, grown to that call's real size.
 *
 * <p>Used by the run's own thread, except {@link #release}, which the run machinery may call when the run has ended;
 * hence the synchronization.
 */
final class RunSpending {
    private final Budgets budgets;
    private final CallPricing pricing;
    private final String userId;
    private final String runId;
    private final Long limitMicros;
    private Hold admitted; // the hold of the first call, taken at admission, until that call is reserved
    private Hold current; // the hold of the call in flight
    private BigDecimal runCost = BigDecimal.ZERO;

    RunSpending(Budgets budgets, CallPricing pricing, String userId, String runId, Long limitMicros) {
        this.budgets = budgets;
        this.pricing = pricing;
        this.userId = userId;
        this.runId = runId;
        this.limitMicros = limitMicros;
    }

    /** Whether the user has a limit, so that calls are reserved and charged in the ledger. */
    boolean limited() {
        return limitMicros != null;
    }

    /** Reserves the run's first call at admission, sized from what is known before the thread's history is read. */
    synchronized void admit(LocalDate day, long inputBound, long outputCap) {
        if (limited()) {
            admitted = budgets.reserve(userId, runId, limitMicros, pricing.most(day, inputBound, outputCap));
        }
    }

    /**
     * Reserves the call about to be sent.
     *
     * @throws BudgetExceededException when the budget cannot cover it
     */
    synchronized void reserve(LocalDate day, long inputBound, long outputCap) {
        if (!limited()) {
            return;
        }
        BigDecimal most = pricing.most(day, inputBound, outputCap);
        if (admitted != null) {
            Hold first = admitted;
            admitted = null;
            current = first; // released with the run if growing it fails
            current = budgets.grow(first, most);
        } else {
            current = budgets.reserve(userId, runId, limitMicros, most);
        }
    }

    /** The reservation of the call in flight (what a call that reports no usage is charged); zero without a limit. */
    synchronized BigDecimal reserved() {
        return current == null ? BigDecimal.ZERO : Money.usd(current.micros());
    }

    /**
     * Charges the call in flight {@code cost} (a call sent without a hold, which the transport's hook prevents, is
     * charged all the same) and emits {@code cost_updated}, and {@code budget_warning} when this
     * call crossed the warning share first in the period. Without a limit, nothing is written or emitted.
     */
    void charge(AgentRun run, String agent, BigDecimal cost) {
        Charge charge;
        BigDecimal total;
        synchronized (this) {
            runCost = runCost.add(cost);
            total = runCost;
            if (!limited()) {
                return;
            }
            charge = current == null ? budgets.chargeUnreserved(userId, runId, limitMicros, cost)
                    : budgets.commit(current, cost);
            current = null;
        }
        if (charge == null) {
            return;
        }
        ObjectNode data = Json.object();
        data.put("call_cost_usd", charge.callCostUsd());
        data.put("run_cost_usd", total);
        data.put("remaining_usd", charge.remainingUsd());
        run.emit(agent, EventType.COST_UPDATED, data);
        if (charge.warn()) {
            run.emit(agent, EventType.BUDGET_WARNING, Json.object().put("spent_usd", charge.spentUsd())
                    .put("limit_usd", charge.limitUsd()));
        }
    }

    /** Gives back whatever the run still holds (a call stopped or failed, or a first call never made). */
    synchronized void release() {
        budgets.quietlyRelease(current);
        budgets.quietlyRelease(admitted);
        current = null;
        admitted = null;
    }
}
