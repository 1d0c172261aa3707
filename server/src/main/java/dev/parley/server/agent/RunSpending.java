package dev.parley.server.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.budget.BudgetExceededException;
import dev.parley.server.budget.Budgets;
import dev.parley.server.budget.CallPricing;
import dev.parley.server.budget.Charge;
import dev.parley.server.budget.Hold;
import dev.parley.server.budget.Money;
import dev.parley.server.db.Sql;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The budget side of one run of a language model: the user's limit (read once, when the run is admitted), the hold
 * of the call in flight, and what the run's calls cost so far. Each call is reserved before its request is sent
 * ({@link #reserve}), then charged ({@link #charge}) or, when it was stopped or failed, released ({@link #release}).
 * The hold taken when the run was admitted serves its first call, grown to that call's real size.
 *
 * <p>A charge does not hold the run up: it is queued to the ledger and the run goes on, its hold counted until the
 * charge commits; its {@code cost_updated} (and {@code budget_warning}) is emitted once it has committed, at the
 * run's next step ({@link #emitCharged}), and the run waits for every queued charge before it ends
 * ({@link #awaitCharges}), so that its stored end and the ledger agree.
 *
 * <p>Used by the run's own thread, except {@link #release}, which the run machinery may call when the run has ended;
 * hence the synchronization.
 */
final class RunSpending {
    private final Budgets budgets;
    private final CallPricing pricing;
    private final String userId;
    private final String runId;
    /** The user's limit (null: none), which is never null once it is not; until {@link #limitRead}, the default. */
    private Long limitMicros;
    /** Whether {@link #limitMicros} is the user's own: false until the first reservation reads it, where it does. */
    private boolean limitRead;
    private Hold admitted; // the hold of the first call, taken at admission, until that call is reserved
    /** Whether the start's transaction took {@link #admitted} (when it decides admission); null: taken already. */
    private CompletableFuture<Boolean> admission;
    private Hold current; // the hold of the call in flight
    private BigDecimal runCost = BigDecimal.ZERO;
    /** Charges queued and not yet reported in {@code cost_updated}, oldest first. */
    private final Queue<Pending> pending = new ArrayDeque<>();

    private record Pending(CompletableFuture<Charge> charge, BigDecimal runCost) {
    }

    RunSpending(Budgets budgets, CallPricing pricing, String userId, String runId, Long limitMicros) {
        this.budgets = budgets;
        this.pricing = pricing;
        this.userId = userId;
        this.runId = runId;
        this.limitMicros = limitMicros;
        this.limitRead = !budgets.readsLimitsInReservations();
    }

    /** Whether the user has a limit, so that calls are reserved and charged in the ledger. */
    boolean limited() {
        return limitMicros != null;
    }

    /** Reserves the run's first call at admission, sized from what is known before the thread's history is read. */
    synchronized void admit(LocalDate day, long inputBound, long outputCap) {
        if (limited()) {
            admitted = reserveUnderLimit(pricing.most(day, inputBound, outputCap));
        }
    }

    /**
     * Prepares the run's first call's hold, sized as {@link #admit} does, for the start's own transaction to take:
     * the returned admission decides there, and the first call waits for that transaction before it is sent.
     */
    synchronized Agent.Admission admitInStart(LocalDate day, long inputBound, long outputCap) {
        Hold hold = budgets.prepare(userId, runId, limitMicros, pricing.most(day, inputBound, outputCap));
        CompletableFuture<Boolean> decided = new CompletableFuture<>();
        admitted = hold;
        admission = decided;
        AtomicReference<Hold> applied = new AtomicReference<>(hold);
        Sql.Work<BudgetExceededException> take = limitRead ? budgets.take(hold) : budgets.takeFirst(hold, applied::set);
        return new Agent.Admission() {
            @Override
            public Sql.Work<BudgetExceededException> decision() {
                return take;
            }

            @Override
            public void settled(boolean admitted, RuntimeException refusal) {
                if (refusal instanceof BudgetExceededException exceeded) {
                    budgets.refused(exceeded, userId);
                }
                limitApplied(applied.get());
                decided.complete(admitted);
            }
        };
    }

    /** Takes the limit the start's transaction applied to the first call's hold as the run's own. */
    private synchronized void limitApplied(Hold hold) {
        if (admitted != null) {
            admitted = hold;
        }
        limitMicros = hold.limitMicros();
        limitRead = true;
    }

    /**
     * Reserves the call about to be sent; the first one waits for the start's transaction when that takes its hold.
     *
     * @throws BudgetExceededException when the budget cannot cover it
     */
    void reserve(LocalDate day, long inputBound, long outputCap) {
        if (!limited()) {
            return;
        }
        CompletableFuture<Boolean> decided;
        synchronized (this) {
            decided = admitted == null ? null : admission;
        }
        if (decided != null && !decided.join()) { // not interruptible: the start's transaction ends either way
            // Refused or not stored: the run's agent is being stopped, and its call must not be sent.
            throw new ProtocolException(ErrorCode.BUDGET_EXCEEDED, "Run " + runId + " was not admitted.");
        }
        reserveAdmitted(day, inputBound, outputCap);
    }

    private synchronized void reserveAdmitted(LocalDate day, long inputBound, long outputCap) {
        BigDecimal most = pricing.most(day, inputBound, outputCap);
        if (admitted != null) {
            Hold first = admitted;
            admitted = null;
            current = first; // released with the run if growing it fails
            current = budgets.grow(first, most);
        } else {
            current = reserveUnderLimit(most);
        }
    }

    /** Reserves {@code most} under the user's limit; the run's first reservation reads that limit where it can. */
    private Hold reserveUnderLimit(BigDecimal most) {
        if (limitRead) {
            return budgets.reserve(userId, runId, limitMicros, most);
        }
        Hold hold = budgets.reserveFirst(userId, runId, most);
        limitMicros = hold.limitMicros();
        limitRead = true;
        return hold;
    }

    /** The reservation of the call in flight (what a call that reports no usage is charged); zero without a limit. */
    synchronized BigDecimal reserved() {
        return current == null ? BigDecimal.ZERO : Money.usd(current.micros());
    }

    /**
     * Queues the charge of the call in flight, {@code cost} (a call sent without a hold, which the transport's hook
     * prevents, is charged all the same, and waited for), without waiting for it to commit. Without a limit, nothing
     * is written or emitted.
     */
    synchronized void charge(BigDecimal cost) {
        runCost = runCost.add(cost);
        if (!limited()) {
            return;
        }
        CompletableFuture<Charge> charge = current == null
                ? CompletableFuture.completedFuture(budgets.chargeUnreserved(userId, runId, limitMicros, cost))
                : budgets.commitAsync(current, cost);
        current = null;
        pending.add(new Pending(charge, runCost));
    }

    /**
     * Emits {@code cost_updated} for each queued charge that has committed, oldest first, stopping at the first one
     * still queued; and {@code budget_warning} when a charge crossed the warning share first in the period.
     *
     * @throws RuntimeException what a charge that failed threw (its hold stays, and is released once the run has
     *     ended)
     */
    void emitCharged(AgentRun run, String agent) {
        emit(run, agent, false);
    }

    /**
     * Waits, not interruptibly, for every queued charge to commit and emits its events: what a run does before it ends,
     * in any way.
     */
    void awaitCharges(AgentRun run, String agent) {
        emit(run, agent, true);
    }

    private void emit(AgentRun run, String agent, boolean wait) {
        if (wait) {
            List<Pending> queued;
            synchronized (this) {
                queued = List.copyOf(pending);
            }
            for (Pending charge : queued) { // all of them, even past one that failed
                charge.charge().handle((done, failure) -> null).join();
            }
        }
        while (true) {
            Pending next;
            synchronized (this) {
                next = pending.peek();
                if (next == null || !wait && !next.charge().isDone()) {
                    return;
                }
                pending.remove();
            }
            Charge charge;
            try {
                charge = next.charge().join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException failure ? failure : e;
            }
            if (charge == null) {
                continue;
            }
            ObjectNode data = Json.object();
            data.put("call_cost_usd", charge.callCostUsd());
            data.put("run_cost_usd", next.runCost());
            data.put("remaining_usd", charge.remainingUsd());
            run.emit(agent, EventType.COST_UPDATED, data);
            if (charge.warn()) {
                run.emit(agent, EventType.BUDGET_WARNING, Json.object().put("spent_usd", charge.spentUsd())
                        .put("limit_usd", charge.limitUsd()));
            }
        }
    }

    /** Gives back whatever the run still holds (a call stopped or failed, or a first call never made). */
    synchronized void release() {
        budgets.quietlyRelease(current);
        if (admission == null || admission.getNow(true)) { // a hold the start did not take is not there to release
            budgets.quietlyRelease(admitted);
        }
        current = null;
        admitted = null;
    }
}
