package dev.parley.server.budget;

import dev.parley.server.db.Sql;
import dev.parley.server.observe.Metrics;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ledger's sweep, which every instance runs: it settles the holds that runs left behind when they ended without
 * settling them, and releases the holds of starts that were never stored. Its writes go through the ledger's writer
 * ({@code write}), as every other ledger write does.
 */
final class HoldSweep {
    private static final Logger LOG = LoggerFactory.getLogger(HoldSweep.class);

    private final Sql sql;
    private final Metrics metrics;
    private final Clock clock;
    private final BiFunction<String, Sql.Work<Boolean>, Boolean> write;

    HoldSweep(Sql sql, Metrics metrics, Clock clock, BiFunction<String, Sql.Work<Boolean>, Boolean> write) {
        this.sql = sql;
        this.metrics = metrics;
        this.clock = clock;
        this.write = write;
    }

    /**
     * Settles the holds of runs that have ended (their agent could neither charge nor release them: its instance
     * died, or the charge failed) and releases those of runs that were never stored (their instance died between
     * admission and storing the start) once they are {@link Budgets#ORPHAN_AGE} old. An ended run's hold is charged
     * what its stored {@code cost_updated} events say its calls cost (the last one's {@code run_cost_usd}: a run's
     * costs are committed to the ledger once, when it ends), and the rest of it released. A live instance's run never
     * loses its hold this way: a run ends only after its hold has been settled.
     *
     * @return how many holds were settled or released
     */
    int run() {
        Instant orphanedBefore = clock.instant().minus(Budgets.ORPHAN_AGE);
        record Left(String id, String runId, String userId, String period, long micros, boolean stored) {
        }
        List<Left> left = sql.query("SELECT h.id, h.run_id, h.user_id, h.period_start, h.amount_micros, "
                        + "r.id AS stored FROM budget_holds h LEFT JOIN runs r ON r.id = h.run_id "
                        + "WHERE (r.id IS NULL AND h.created_at < ?) OR (r.id IS NOT NULL AND r.status <> ?)",
                row -> new Left(row.getString("id"), row.getString("run_id"), row.getString("user_id"),
                        row.getString("period_start"), row.getLong("amount_micros"), row.getString("stored") != null),
                orphanedBefore, "running");
        int released = 0;
        for (Left hold : left) {
            long cost = hold.stored() ? sql.withConnection(connection -> LedgerRows.recordedCostMicros(connection,
                    hold.runId())) : 0;
            if (write.apply(hold.userId(), connection -> LedgerRows.settleLeft(connection, hold.id(), hold.userId(),
                    hold.period(), hold.micros(), cost))) {
                released++;
            }
        }
        if (released > 0) {
            metrics.add("parley_budget_holds_swept_total", "Holds released after their run ended without releasing "
                    + "or charging them (its instance stopped).", released);
            LOG.info("Released {} hold(s) of runs that ended elsewhere", released);
        }
        return released;
    }
}
