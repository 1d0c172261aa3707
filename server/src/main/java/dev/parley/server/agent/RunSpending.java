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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The budget side of one run of a language model: the user's limit (read once, when the run is admitted), the run's
 * one hold in the ledger, and what the run's calls cost so far. The hold is taken when the run is admitted, for its
 * first call and, when the budget has room for it, as much again for the calls after it; each call is reserved
 * against it before its request is sent ({@link #reserve}), and only a call it cannot cover grows it, with the same
 * conditional write of the ledger row as admission (and room for one more call where that fits). What the calls cost
 * stays counted inside the hold until the run ends, when one write charges the ledger the run's cost and releases the
 * rest of the hold ({@link #settle}); a stopped or failed call's reservation goes back to the hold at once.
 *
 * <p>So a run's costs reach the ledger's {@code spent} when it ends, and until then count as held: the run's
 * {@code cost_updated} events after its calls but the last say what remained right after the hold was last taken or
 * grown, and the last one (with {@code budget_warning}, when the charge crossed the warning share first in the period)
 * is emitted once the run's charge has committed, with what remains after it. When an instance dies mid-run, whoever
 * ends the run charges its hold what the run's stored {@code cost_updated} events say (the ledger's sweep).
 *
 * <p>Used by the run's own thread, except {@link #end}, which the run machinery calls when the run has ended; hence
 * the synchronization.
 */
final class RunSpending {
    private static final Logger LOG = LoggerFactory.getLogger(RunSpending.class);

    private final Budgets budgets;
    private final CallPricing pricing;
    private final String userId;
    private final String runId;
    /** The user's limit (null: none), which is never null once it is not; until {@link #limitRead}, the default. */
    private Long limitMicros;
    /** Whether {@link #limitMicros} is the user's own: false until the first reservation reads it, where it does. */
    private boolean limitRead;
    /** The run's hold: null until it is taken, or until the start's transaction has decided on the prepared one. */
    private Hold hold;
    /** Whether the start's transaction takes the hold (when it decides admission); null: no such transaction. */
    private CompletableFuture<Boolean> admission;
    /** What the run's calls cost, counted inside {@link #hold} and not yet charged to the ledger. */
    private long spentMicros;
    /** The reservation of the call in flight: what a call that reports no usage is charged. */
    private long inFlightMicros;
    /** The reservation of the last call charged. */
    private long lastCallMicros;
    private BigDecimal runCost = BigDecimal.ZERO;
    /** The last call's {@code cost_updated}, not emitted yet; its charge when that is already known. */
    private Pending pending;
    private boolean settled;

    private record Pending(BigDecimal callCost, BigDecimal runCost, Charge charge) {
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

    /** Takes the run's hold at admission, sized from what is known before the thread's history is read. */
    synchronized void admit(LocalDate day, long inputBound, long outputCap) {
        if (limited()) {
            hold = take(pricing.most(day, inputBound, outputCap));
        }
    }

    /**
     * Prepares the run's hold, sized as {@link #admit} does, for the start's own transaction to take: the returned
     * admission decides there, and the first call waits for that transaction before it is sent.
     */
    synchronized Agent.Admission admitInStart(LocalDate day, long inputBound, long outputCap) {
        BigDecimal most = pricing.most(day, inputBound, outputCap);
        Hold prepared = budgets.prepare(userId, runId, limitMicros, most, most);
        CompletableFuture<Boolean> decided = new CompletableFuture<>();
        admission = decided;
        AtomicReference<Hold> applied = new AtomicReference<>(prepared);
        Sql.Work<BudgetExceededException> take = limitRead ? budgets.take(prepared, applied::set)
                : budgets.takeFirst(prepared, applied::set);
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
                taken(applied.get());
                decided.complete(admitted);
            }
        };
    }

    /** Takes the hold the start's transaction took (or prepared) as the run's own, with the limit it applied. */
    private synchronized void taken(Hold taken) {
        hold = taken;
        limitMicros = taken.limitMicros();
        limitRead = true;
    }

    /**
     * Reserves the call about to be sent against the run's hold, growing the hold when it cannot cover the call; the
     * first one waits for the start's transaction when that takes the hold.
     *
     * @throws BudgetExceededException when the budget cannot cover it
     */
    void reserve(LocalDate day, long inputBound, long outputCap) {
        if (!limited()) {
            return;
        }
        CompletableFuture<Boolean> decided;
        synchronized (this) {
            decided = admission;
        }
        if (decided != null && !decided.join()) { // not interruptible: the start's transaction ends either way
            // Refused or not stored: the run's agent is being stopped, and its call must not be sent.
            throw new ProtocolException(ErrorCode.BUDGET_EXCEEDED, "Run " + runId + " was not admitted.");
        }
        reserveCall(pricing.most(day, inputBound, outputCap));
    }

    private synchronized void reserveCall(BigDecimal most) {
        long micros = Money.microsCeiling(most);
        if (hold == null) {
            hold = take(most);
        } else if (spentMicros + micros > hold.micros()) {
            hold = budgets.growTo(hold, spentMicros + micros, micros);
        }
        inFlightMicros = micros;
    }

    /** Takes the run's hold for a call of {@code most}, and as much again when it fits; the first reads the limit. */
    private Hold take(BigDecimal most) {
        if (limitRead) {
            return budgets.reserve(budgets.prepare(userId, runId, limitMicros, most, most));
        }
        Hold taken = budgets.reserveFirst(budgets.prepare(userId, runId, limitMicros, most, most));
        limitMicros = taken.limitMicros();
        limitRead = true;
        return taken;
    }

    /** The reservation of the call in flight (what a call that reports no usage is charged); zero without a limit. */
    synchronized BigDecimal reserved() {
        return Money.usd(inFlightMicros);
    }

    /**
     * Counts the cost of the call in flight inside the run's hold (a call sent without a hold, which the transport's
     * hook prevents, is charged at once all the same). Without a limit, nothing is written or emitted.
     */
    synchronized void charge(BigDecimal cost) {
        runCost = runCost.add(cost);
        if (!limited()) {
            return;
        }
        lastCallMicros = inFlightMicros;
        inFlightMicros = 0;
        if (hold == null) {
            Charge charge = budgets.chargeUnreserved(userId, runId, limitMicros, cost);
            pending = new Pending(charge.callCostUsd(), runCost, charge);
            return;
        }
        long micros = Money.micros(cost);
        spentMicros += micros;
        pending = new Pending(Money.usd(micros), runCost, null);
    }

    /** Gives the reservation of the call in flight back to the run's hold (the call was stopped or failed). */
    synchronized void release() {
        inFlightMicros = 0;
    }

    /**
     * Emits the {@code cost_updated} of the call just charged, when it is not the run's last: with what remained right
     * after the run's hold was last taken or grown, since the run's costs count as held until it ends. Near the limit
     * the hold first gives back what it holds beyond the run's costs ({@link Budgets#between}), and the event says
     * what remains after that.
     */
    synchronized void emitCharged(AgentRun run, String agent) {
        Pending charged = pending;
        pending = null;
        if (charged == null) {
            return;
        }
        if (hold != null) {
            hold = budgets.between(hold, spentMicros, lastCallMicros);
        }
        long remaining = hold == null ? 0 : Math.max(0, hold.remainingMicros());
        emit(run, agent, charged, charged.charge(), charged.charge() != null ? charged.charge().remainingUsd()
                : Money.usd(remaining));
    }

    /**
     * Charges the ledger what the run's calls cost and releases the rest of its hold, waiting for that to commit, not
     * interruptibly, then emits the last call's {@code cost_updated} (and {@code budget_warning}): what a run does
     * before its end is stored, in any way.
     *
     * @throws RuntimeException what the charge threw (the hold stays, and is settled once the run has ended)
     */
    void settle(AgentRun run, String agent) {
        Charge charge = settleHold();
        Pending last;
        synchronized (this) {
            last = pending;
            pending = null;
        }
        if (last != null) {
            Charge reported = last.charge() != null ? last.charge() : charge;
            emit(run, agent, last, reported, reported == null ? BigDecimal.ZERO : reported.remainingUsd());
        } else if (charge != null && charge.warn()) {
            warn(run, agent, charge);
        }
    }

    /** Settles the run's hold if the run has not (its agent never ran, or failed before); a failure is logged. */
    void end() {
        try {
            settleHold();
        } catch (RuntimeException e) {
            LOG.warn("Settling the hold of run {} failed; it is settled once the run has ended: {}", runId,
                    e.toString());
        }
    }

    /** The one charge of the run's hold: null when there is none to settle (or it was settled already). */
    private Charge settleHold() {
        Hold settling;
        long spent;
        synchronized (this) {
            if (settled) {
                return null;
            }
            settled = true;
            boolean taken = admission == null || admission.getNow(true); // a hold the start did not take is not there
            settling = taken && hold != null ? hold : null;
            spent = spentMicros;
        }
        return settling == null ? null : budgets.settle(settling, Money.usd(spent));
    }

    private static void emit(AgentRun run, String agent, Pending call, Charge charge, BigDecimal remaining) {
        ObjectNode data = Json.object();
        data.put("call_cost_usd", call.callCost());
        data.put("run_cost_usd", call.runCost());
        data.put("remaining_usd", remaining);
        run.emit(agent, EventType.COST_UPDATED, data);
        if (charge != null && charge.warn()) {
            warn(run, agent, charge);
        }
    }

    private static void warn(AgentRun run, String agent, Charge charge) {
        run.emit(agent, EventType.BUDGET_WARNING, Json.object().put("spent_usd", charge.spentUsd())
                .put("limit_usd", charge.limitUsd()));
    }
}
