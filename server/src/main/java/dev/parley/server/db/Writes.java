package dev.parley.server.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Writes collected inside a transaction and run together when {@link #flush flushed}: one JDBC batch per statement,
 * so that many rows of the same kind cost one round trip to PostgreSQL instead of one each (SQLite runs them one by
 * one either way). Statements run in the order given at construction (parents before children, for the foreign
 * keys), then any others in the order they came; the rows of one statement in the order they came. A write can
 * expect to change exactly one row, and can say what a failure of its own means; both are checked at the flush.
 * Belongs to one transaction's thread.
 */
public final class Writes {
    private record Row(Object[] params, Supplier<? extends RuntimeException> unlessOneRow,
                       Function<SQLException, RuntimeException> failure) {
    }

    private final List<String> order;
    private final Map<String, List<Row>> pending = new LinkedHashMap<>();

    /** {@code order}: the statements in the order their batches run. */
    public Writes(List<String> order) {
        this.order = List.copyOf(order);
    }

    /** Queues a write. */
    public void add(String statement, Object... params) {
        row(statement, new Row(params, null, null));
    }

    /**
     * Queues a write whose own failure {@code failure} may translate (null: not one it knows); a failure of a batch
     * of several rows is not translated, since it is not known which row failed.
     */
    public void add(String statement, Function<SQLException, RuntimeException> failure, Object... params) {
        row(statement, new Row(params, null, failure));
    }

    /** Queues a write that must change exactly one row; when it changes none, the flush throws what it supplies. */
    public void expectOneRow(String statement, Supplier<? extends RuntimeException> otherwise, Object... params) {
        row(statement, new Row(params, otherwise, null));
    }

    private void row(String statement, Row row) {
        pending.computeIfAbsent(statement, key -> new ArrayList<>()).add(row);
    }

    public boolean isEmpty() {
        return pending.isEmpty();
    }

    /** Runs what is queued on the connection, in the transaction under way; nothing is queued afterwards. */
    public void flush(Connection connection) throws SQLException {
        if (pending.isEmpty()) {
            return;
        }
        Set<String> statements = new LinkedHashSet<>(order);
        statements.addAll(pending.keySet());
        try {
            for (String statement : statements) {
                List<Row> rows = pending.get(statement);
                if (rows != null) {
                    run(connection, statement, rows);
                }
            }
        } finally {
            pending.clear();
        }
    }

    private static void run(Connection connection, String statement, List<Row> rows) throws SQLException {
        PreparedStatement prepared = Sql.prepare(connection, statement);
        int[] changed;
        try {
            if (rows.size() == 1) { // one row: the driver's own exception for it, not a batch's
                Sql.bind(prepared, rows.getFirst().params());
                changed = new int[] {prepared.executeUpdate()};
            } else {
                for (Row row : rows) {
                    Sql.bind(prepared, row.params());
                    prepared.addBatch();
                }
                changed = prepared.executeBatch();
            }
        } catch (SQLException e) {
            Sql.discard(prepared);
            RuntimeException translated = rows.size() == 1 && rows.getFirst().failure() != null
                    ? rows.getFirst().failure().apply(e) : null;
            if (translated != null) {
                throw translated;
            }
            throw e;
        }
        Sql.release(prepared);
        for (int i = 0; i < rows.size(); i++) {
            Row row = rows.get(i);
            if (row.unlessOneRow() != null && changed[i] != 1 && changed[i] != Statement.SUCCESS_NO_INFO) {
                throw row.unlessOneRow().get();
            }
        }
    }
}
