package dev.parley.server.budget;

import dev.parley.server.db.Sql;

/**
 * Where the ledger's writes run: each call runs one unit of work in a transaction and returns its result once that
 * transaction has committed (throwing what the work threw, with nothing of it committed). The work touches only the
 * ledger's tables ({@code budget_ledger}, {@code budget_holds}), so a writer may run it inside a transaction shared
 * with other writes, and may run it again after a rollback: it must leave the same result either way.
 *
 * <p>On the embedded database the server's writer is the run journal's ({@code RunService#writeLedger}):
 * reservations and charges join its batched commits instead of being a second SQLite writer beside it. A writer must
 * not let the caller's interrupt (a stopped run's thread) cut a statement off.
 */
public interface LedgerWriter {
    <T> T inTransaction(Sql.Work<T> work);
}
