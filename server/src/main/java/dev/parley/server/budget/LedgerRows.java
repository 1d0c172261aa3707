package dev.parley.server.budget;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.server.db.Sql;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The spend ledger's rows and the statements that write them, on a caller's connection and inside its transaction:
 * admission's conditional write of a user's ledger row and the hold it admits, a charge, a release, and what the
 * sweep reads and writes. {@link Budgets} decides when each runs and on which writer. Each write that has a
 * PostgreSQL form in one statement (a data-modifying {@code WITH}) has it here beside the form SQLite runs.
 */
final class LedgerRows {
    /**
     * A hold asks for room beyond its own amount only while the budget keeps {@value} times that room free after it,
     * so that the rooms of a user's runs take a small share of what is left and do not refuse the user's other starts
     * that what is left could cover; near the limit, and under a limit of a few calls, every hold is its amount alone.
     */
    static final long ROOM_HEADROOM = 20;

    /** Admission's conditional write of the ledger row; returns the row's spent and held after it. */
    static final String ADMIT = "UPDATE budget_ledger SET held_micros = held_micros + ? "
            + "WHERE user_id = ? AND period_start = ? AND spent_micros + held_micros + ? <= ? "
            + "RETURNING spent_micros, held_micros";
    /**
     * A commit's one write of the ledger row: the hold's part released, the cost spent, and {@code warned} counted
     * from 0 to 1 by the first commit that finds the period at or past the warning share (2 for every later one), so
     * that the row it returns says whether this commit is the one that warns.
     */
    static final String CHARGE = "UPDATE budget_ledger SET held_micros = held_micros - ?, "
            + "spent_micros = spent_micros + ?, warned = CASE WHEN spent_micros + ? >= ? "
            + "THEN (CASE WHEN warned = 0 THEN 1 ELSE 2 END) ELSE warned END "
            + "WHERE user_id = ? AND period_start = ? RETURNING spent_micros, held_micros, warned";

    /**
     * A reservation in one statement, for PostgreSQL: the conditional write of the user's ledger row and, when it
     * admitted the amount, the hold's row; one round trip where the two take two. Returns the row's spent and held
     * after it, and no row (inserting and updating nothing) when the amount does not fit or the period has no row yet.
     */
    static final String RESERVE_AT_ONCE = "WITH admitted AS (" + ADMIT + "), "
            + "held AS (INSERT INTO budget_holds (id, run_id, user_id, period_start, amount_micros, created_at) "
            + "SELECT ?, ?, ?, ?, ?, ? FROM admitted) SELECT spent_micros, held_micros FROM admitted";
    /**
     * A run's first reservation in one statement, for PostgreSQL, under the user's own limit or else the default
     * (the second parameter): {@link #RESERVE_AT_ONCE} with the limit read in the same statement, which returns the
     * limit it applied, whether the hold was taken, and the ledger row's spent and held after it. The query before it
     * that reads the limit is one round trip less per run.
     */
    static final String RESERVE_FIRST_AT_ONCE = "WITH lim AS (SELECT COALESCE((SELECT limit_micros "
            + "FROM budget_limits WHERE user_id = ?), ?) AS micros), admitted AS (UPDATE budget_ledger "
            + "SET held_micros = held_micros + ? WHERE user_id = ? AND period_start = ? "
            + "AND spent_micros + held_micros + ? <= (SELECT micros FROM lim) - ? "
            + "RETURNING spent_micros, held_micros), "
            + "held AS (INSERT INTO budget_holds (id, run_id, user_id, period_start, amount_micros, created_at) "
            + "SELECT ?, ?, ?, ?, ?, ? FROM admitted RETURNING id) "
            + "SELECT (SELECT micros FROM lim) AS limit_micros, (SELECT COUNT(*) FROM held) AS taken, "
            + "(SELECT spent_micros FROM admitted) AS spent_micros, (SELECT held_micros FROM admitted) AS held_micros";
    /**
     * A charge in one statement, for PostgreSQL: the hold's row deleted and the ledger row updated as {@link #CHARGE}
     * does, with what the deleted row held released; the call's whole cost is spent either way (a hold already
     * released by the sweep frees nothing).
     */
    static final String CHARGE_AT_ONCE = "WITH released AS (DELETE FROM budget_holds WHERE id = ? "
            + "RETURNING amount_micros), charge AS (SELECT COALESCE((SELECT amount_micros FROM released), 0) AS freed, "
            + "(SELECT COUNT(*) FROM released) AS found, CAST(? AS BIGINT) AS cost) "
            + "UPDATE budget_ledger SET held_micros = held_micros - charge.freed, "
            + "spent_micros = spent_micros + charge.cost, warned = CASE WHEN spent_micros + charge.cost >= ? "
            + "THEN (CASE WHEN warned = 0 THEN 1 ELSE 2 END) ELSE warned END "
            + "FROM charge WHERE user_id = ? AND period_start = ? "
            + "RETURNING spent_micros, held_micros, warned, charge.found AS found";

    /** The limit an admin set for this user, in micro-dollars, read on {@code connection}. */
    static Optional<Long> ownLimitMicros(Connection connection, String userId) throws SQLException {
        return Sql.query(connection, "SELECT limit_micros FROM budget_limits WHERE user_id = ?",
                row -> row.getLong("limit_micros"), userId).stream().findFirst();
    }

    /** What taking a hold came to: the hold as taken, or else the position (spent, held) that refused it. */
    record Taking(Hold hold, long[] refusedAt) {
    }

    /**
     * Takes a hold in the caller's transaction, with its room when that fits, else its amount alone. With
     * {@code oneStatement} (PostgreSQL) a hold that fits in an existing row takes one statement.
     */
    static Taking takeHold(Connection connection, Hold hold, boolean oneStatement, Instant now) throws SQLException {
        long[][] tries = tries(hold.micros(), hold.roomMicros(), hold.limitMicros());
        if (oneStatement) {
            for (long[] attempt : tries) {
                List<long[]> row = Sql.query(connection, RESERVE_AT_ONCE, LedgerRows::spentAndHeld, attempt[0],
                        hold.userId(), hold.periodStart(), attempt[0], attempt[1], hold.id(), hold.runId(),
                        hold.userId(), hold.periodStart(), attempt[0], now);
                if (!row.isEmpty()) {
                    return new Taking(taken(hold, attempt[0], row.getFirst()), null);
                }
            }
        }
        // Not admitted at once (no room, or the period's first reservation): the statements below decide, and say why.
        for (int round = 0; round < 2; round++) {
            for (long[] attempt : tries) {
                List<long[]> row = Sql.query(connection, ADMIT, LedgerRows::spentAndHeld, attempt[0], hold.userId(),
                        hold.periodStart(), attempt[0], attempt[1]);
                if (!row.isEmpty()) {
                    Sql.update(connection, "INSERT INTO budget_holds (id, run_id, user_id, period_start, "
                            + "amount_micros, created_at) VALUES (?, ?, ?, ?, ?, ?)", hold.id(), hold.runId(),
                            hold.userId(), hold.periodStart(), attempt[0], now);
                    return new Taking(taken(hold, attempt[0], row.getFirst()), null);
                }
            }
            if (round == 0) {
                ensureLedgerRow(connection, hold.userId(), hold.periodStart());
            }
        }
        return new Taking(null, ledger(connection, hold.userId(), hold.periodStart()));
    }

    /**
     * The amounts a hold of {@code micros} tries, each with the ceiling that spent, held and it must stay under: with
     * {@code roomMicros} more while {@link #ROOM_HEADROOM} times the room stays free after it, then alone under the
     * limit.
     */
    static long[][] tries(long micros, long roomMicros, long limit) {
        return roomMicros > 0 ? new long[][] {{micros + roomMicros, limit - ROOM_HEADROOM * roomMicros},
                {micros, limit}} : new long[][] {{micros, limit}};
    }

    /** The hold taken as {@code amount}, beside the ledger row's (spent, held) after it. */
    static Hold taken(Hold hold, long amount, long[] position) {
        return hold.taken(amount, hold.limitMicros() - position[0] - position[1]);
    }

    static long[] spentAndHeld(ResultSet row) throws SQLException {
        return new long[] {row.getLong("spent_micros"), row.getLong("held_micros")};
    }

    /**
     * The conditional write of admission, creating the period's row on first use: the row's (spent, held) after it,
     * or null when the amount does not fit.
     */
    static long[] admit(Connection connection, String userId, String period, long amount, long limit)
            throws SQLException {
        List<long[]> row = Sql.query(connection, ADMIT, LedgerRows::spentAndHeld, amount, userId, period, amount,
                limit);
        if (row.isEmpty()) {
            ensureLedgerRow(connection, userId, period);
            row = Sql.query(connection, ADMIT, LedgerRows::spentAndHeld, amount, userId, period, amount, limit);
        }
        return row.isEmpty() ? null : row.getFirst();
    }

    /**
     * Creates the period's ledger row if it is not there. The insert waits for a concurrent one of the same row and
     * then does nothing, and a statement after it sees that row committed.
     */
    static void ensureLedgerRow(Connection connection, String userId, String period) throws SQLException {
        Sql.update(connection, "INSERT INTO budget_ledger (user_id, period_start, spent_micros, held_micros, "
                + "warned) VALUES (?, ?, 0, 0, 0) ON CONFLICT DO NOTHING", userId, period);
    }

    /** A ledger row as a charge returns it: spent, held, warned. */
    static long[] position(ResultSet row) throws SQLException {
        return new long[] {row.getLong("spent_micros"), row.getLong("held_micros"), row.getLong("warned")};
    }

    static long[] ledger(Connection connection, String userId, String period) throws SQLException {
        List<long[]> rows = Sql.query(connection, "SELECT spent_micros, held_micros FROM budget_ledger "
                        + "WHERE user_id = ? AND period_start = ?",
                row -> new long[] {row.getLong("spent_micros"), row.getLong("held_micros")}, userId, period);
        return rows.isEmpty() ? new long[] {0, 0} : rows.getFirst();
    }

    /** What a run's stored {@code cost_updated} events say its calls cost, in micro-dollars (0 without any). */
    static long recordedCostMicros(Connection connection, String runId) throws SQLException {
        return Sql.query(connection, "SELECT body FROM run_events WHERE run_id = ? AND type = ? ORDER BY seq DESC "
                        + "LIMIT 1", row -> row.getString("body"), runId, EventType.COST_UPDATED).stream().findFirst()
                .map(body -> Json.parse(body).path("data").path("run_cost_usd"))
                .filter(JsonNode::isNumber)
                .map(cost -> Money.micros(cost.decimalValue()))
                .orElse(0L);
    }

    /**
     * Charges {@code cost} to a hold left by a run that ended without settling it and releases the rest; nothing when
     * someone else settled or released it first.
     */
    static boolean settleLeft(Connection connection, String holdId, String userId, String period, long micros,
                                      long cost) throws SQLException {
        if (Sql.update(connection, "DELETE FROM budget_holds WHERE id = ?", holdId) != 1) {
            return false;
        }
        Sql.update(connection, "UPDATE budget_ledger SET held_micros = held_micros - ?, spent_micros = spent_micros "
                + "+ ? WHERE user_id = ? AND period_start = ?", micros, cost, userId, period);
        return true;
    }

    private LedgerRows() {
    }
}
