package dev.parley.server.budget;

import dev.parley.server.db.Sql;
import java.util.concurrent.CompletableFuture;

/**
 * Where the ledger's writes run: each call queues one unit of work to run in a transaction and returns a future that
 * completes with its result once that transaction has committed (or with what the work threw, nothing of it
 * committed). The work touches only the ledger's tables ({@code budget_ledger}, {@code budget_holds}), so a writer may
 * run it inside a transaction shared with other writes, and may run it again after a rollback: it must leave the same
 * result either way. Units submitted one after another by one thread may commit in either order on some writers; the
 * ledger's correctness never depends on that order (a pending charge keeps its hold counted until it commits).
 *
 * <p>On the embedded database the server's writer is the run journal's ({@code RunService#writeLedger}):
 * reservations and charges join its batched commits instead of being a second SQLite writer beside it. A writer must
 * not let the caller's interrupt (a stopped run's thread) cut a statement off. On PostgreSQL it is
 * {@link LedgerBatcher}.
 */
public interface LedgerWriter {
    <T> CompletableFuture<T> submit(Sql.Work<T> work);

    /**
     * As {@link #submit(Sql.Work)}, for work on the ledger row of {@code userId}: a writer that runs several units in
     * one transaction orders them by it, so that transactions lock users' rows in one order.
     */
    default <T> CompletableFuture<T> submit(String userId, Sql.Work<T> work) {
        return submit(work);
    }
}
