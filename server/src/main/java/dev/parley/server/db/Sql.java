package dev.parley.server.db;

import dev.parley.protocol.ErrorCode;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;
import org.sqlite.jdbc3.JDBC3PreparedStatement;

/**
 * Thin JDBC helpers over the pool: parameter binding, row mapping and transactions. A connection failure becomes
 * {@link ErrorCode#UPSTREAM_UNAVAILABLE} and marks the database down ({@link DatabaseHealth}); while it is down, work is
 * refused the same way at once, without waiting for a connection. Any other SQL failure is our bug and surfaces as
 * {@link IllegalStateException}.
 */
public final class Sql {
    /** The decimal places kept of an amount of money (the {@code NUMERIC(18, 8)} of the PostgreSQL schema). */
    public static final int MONEY_SCALE = 8;

    private final DataSource dataSource;
    private final boolean sqlite;
    private final DatabaseHealth health;

    /**
     * {@code sqlite}: the database is SQLite (else PostgreSQL); it decides how money and row locks are written.
     * {@code health}: the database's shared up/down signal, which every pool's user checks and feeds.
     */
    Sql(DataSource dataSource, boolean sqlite, DatabaseHealth health) {
        this.dataSource = dataSource;
        this.sqlite = sqlite;
        this.health = health;
    }

    /** The database's shared up/down signal. */
    public DatabaseHealth health() {
        return health;
    }

    /** Whether the database is SQLite (else PostgreSQL), for statements that only one of them can run. */
    public boolean sqlite() {
        return sqlite;
    }

    /**
     * A sum of money as this database stores it: a {@code NUMERIC} in PostgreSQL; in SQLite, which has no exact
     * decimal type and whose floating-point sums drift, a whole number of {@link #MONEY_SCALE 10^-8} dollars.
     */
    public Object money(BigDecimal usd) {
        return sqlite ? usd.setScale(MONEY_SCALE, RoundingMode.HALF_EVEN).unscaledValue().longValueExact() : usd;
    }

    /** A sum of money that {@link #money(BigDecimal)} stored (or a {@code SUM} of such), zero for NULL. */
    public BigDecimal money(ResultSet row, String column) throws SQLException {
        if (sqlite) {
            long units = row.getLong(column);
            return row.wasNull() ? BigDecimal.ZERO : BigDecimal.valueOf(units, MONEY_SCALE);
        }
        BigDecimal value = row.getBigDecimal(column);
        return value == null ? BigDecimal.ZERO : value;
    }

    /**
     * What ends a {@code SELECT} that locks the rows it reads until the transaction ends: {@code FOR UPDATE}, or
     * nothing where every write transaction holds the database's one write lock from its start (SQLite).
     */
    public String forUpdate() {
        return sqlite ? "" : " FOR UPDATE";
    }

    @FunctionalInterface
    public interface RowMapper<T> {
        T map(ResultSet row) throws SQLException;
    }

    @FunctionalInterface
    public interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    public int update(String statement, Object... params) {
        return withConnection(connection -> update(connection, statement, params));
    }

    public <T> List<T> query(String statement, RowMapper<T> mapper, Object... params) {
        return withConnection(connection -> query(connection, statement, mapper, params));
    }

    public <T> Optional<T> queryOne(String statement, RowMapper<T> mapper, Object... params) {
        List<T> rows = query(statement, mapper, params);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.getFirst());
    }

    public static int update(Connection connection, String statement, Object... params) throws SQLException {
        PreparedStatement prepared = prepare(connection, statement);
        int changed;
        try {
            bind(prepared, params);
            changed = prepared.executeUpdate();
        } catch (SQLException | RuntimeException e) {
            discard(prepared);
            throw e;
        }
        release(prepared);
        return changed;
    }

    /** Runs one statement once per parameter row, as a JDBC batch; the rows go in one round trip where the driver can. */
    public static void batch(Connection connection, String statement, List<Object[]> rows) throws SQLException {
        PreparedStatement prepared = prepare(connection, statement);
        try {
            for (Object[] params : rows) {
                bind(prepared, params);
                prepared.addBatch();
            }
            prepared.executeBatch();
        } catch (SQLException | RuntimeException e) {
            discard(prepared);
            throw e;
        }
        release(prepared);
    }

    public static <T> List<T> query(Connection connection, String statement, RowMapper<T> mapper, Object... params)
            throws SQLException {
        PreparedStatement prepared = prepare(connection, statement);
        List<T> result = new ArrayList<>();
        try {
            bind(prepared, params);
            try (ResultSet rows = prepared.executeQuery()) {
                while (rows.next()) {
                    result.add(mapper.map(rows));
                }
            }
        } catch (SQLException | RuntimeException e) {
            discard(prepared);
            throw e;
        }
        release(prepared);
        return result;
    }

    /**
     * A statement to run on the connection, to hand back with {@link #release} (not to close). On SQLite it is kept
     * with its connection and handed out again for the same text: compiling a statement costs SQLite more than
     * running the small ones Parley runs on every turn. PostgreSQL's driver keeps its own server-side statements.
     */
    public static PreparedStatement prepare(Connection connection, String statement) throws SQLException {
        if (!connection.isWrapperFor(SQLiteConnection.class)) {
            return connection.prepareStatement(statement);
        }
        // Kept on the driver's own connection: the pool's proxy closes what it handed out when it is returned.
        SQLiteConnection raw = connection.unwrap(SQLiteConnection.class);
        KeptStatements kept = KEPT.get(raw);
        if (kept == null) {
            KEPT.values().removeIf(KeptStatements::closed); // a new connection: forget the ones the pool closed
            kept = new KeptStatements(raw);
            KEPT.put(raw, kept);
        }
        return kept.prepare(statement);
    }

    /** Hands back a statement from {@link #prepare}: closed, unless its connection keeps it. */
    public static void release(PreparedStatement prepared) throws SQLException {
        KeptStatements kept = keeperOf(prepared);
        if (kept == null || !kept.release(prepared)) {
            prepared.close();
        }
    }

    /** Hands back a statement from {@link #prepare} that failed: closed, and not handed out again. */
    public static void discard(PreparedStatement prepared) {
        KeptStatements kept = keeperOf(prepared);
        if (kept != null) {
            kept.forget(prepared);
        }
        try {
            prepared.close();
        } catch (SQLException e) {
            // a statement of a broken connection: nothing is left to free
        }
    }

    private static KeptStatements keeperOf(PreparedStatement prepared) {
        try {
            return prepared.getConnection() instanceof SQLiteConnection raw ? KEPT.get(raw) : null;
        } catch (SQLException e) {
            return null;
        }
    }

    /** The statements kept per SQLite connection (by identity); a connection is used by one thread at a time. */
    private static final Map<SQLiteConnection, KeptStatements> KEPT = new ConcurrentHashMap<>();

    /**
     * One connection's statements, the most recently used {@link #MAX_KEPT} of them. A statement is handed out to
     * one user at a time: the same text asked for while its statement is in use gets a statement of its own.
     */
    private static final class KeptStatements {
        static final int MAX_KEPT = 64;
        private final SQLiteConnection connection;
        private final LinkedHashMap<String, PreparedStatement> statements = new LinkedHashMap<>(16, 0.75f, true);
        private final Set<PreparedStatement> inUse = Collections.newSetFromMap(new IdentityHashMap<>());

        KeptStatements(SQLiteConnection connection) {
            this.connection = connection;
        }

        PreparedStatement prepare(String statement) throws SQLException {
            PreparedStatement prepared = statements.get(statement);
            if (prepared != null && inUse.contains(prepared)) {
                return connection.prepareStatement(statement); // not kept: closed when released
            }
            if (prepared == null) {
                prepared = connection.prepareStatement(statement);
                statements.put(statement, prepared);
                evictBeyondLimit();
            }
            inUse.add(prepared);
            return prepared;
        }

        /** True when the statement is kept (and is now free for the next use); false when the caller closes it. */
        boolean release(PreparedStatement prepared) throws SQLException {
            if (!inUse.remove(prepared)) {
                return false;
            }
            prepared.clearParameters();
            prepared.clearBatch();
            return true;
        }

        void forget(PreparedStatement prepared) {
            inUse.remove(prepared);
            statements.values().remove(prepared);
        }

        private void evictBeyondLimit() throws SQLException {
            var entries = statements.entrySet().iterator();
            while (statements.size() > MAX_KEPT && entries.hasNext()) {
                PreparedStatement eldest = entries.next().getValue();
                if (!inUse.contains(eldest)) {
                    entries.remove();
                    eldest.close();
                }
            }
        }

        boolean closed() {
            try {
                return connection.isClosed();
            } catch (SQLException e) {
                return true;
            }
        }
    }

    public <T> T withConnection(Work<T> work) {
        health.requireUp();
        try (Connection connection = dataSource.getConnection()) {
            health.track(connection);
            try {
                T result = work.run(connection);
                health.answered();
                return result;
            } finally {
                health.untrack(connection);
            }
        } catch (SQLException e) {
            throw translate(e);
        }
    }

    /** Runs the work in one transaction: committed when it returns, rolled back when it throws. */
    public <T> T inTransaction(Work<T> work) {
        return withConnection(connection -> inTransaction(connection, work));
    }

    private static <T> T inTransaction(Connection connection, Work<T> work) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        T result;
        try {
            result = work.run(connection);
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            // A connection that broke mid-transaction fails these too; the first failure is the one that counts.
            attempt(connection::rollback, e);
            attempt(() -> connection.setAutoCommit(autoCommit), e);
            throw e;
        }
        connection.setAutoCommit(autoCommit);
        return result;
    }

    private interface SqlAction {
        void run() throws SQLException;
    }

    private static void attempt(SqlAction action, Exception failure) {
        try {
            action.run();
        } catch (SQLException e) {
            failure.addSuppressed(e);
        }
    }

    static void bind(PreparedStatement prepared, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            Object value = params[i];
            int index = i + 1;
            switch (value) {
                case null -> prepared.setNull(index, Types.NULL);
                case Instant instant -> setInstant(prepared, index, instant);
                case String text -> prepared.setString(index, text);
                case Integer number -> prepared.setInt(index, number);
                case Long number -> prepared.setLong(index, number);
                case Boolean flag -> prepared.setBoolean(index, flag);
                case BigDecimal decimal -> prepared.setBigDecimal(index, decimal);
                case Double number -> prepared.setDouble(index, number);
                default -> prepared.setObject(index, value);
            }
        }
    }

    /**
     * Binds a point in time. For SQLite this is the number its driver's {@code setTimestamp} stores with the settings
     * every connection here uses (milliseconds since the epoch, as an integer), bound without the {@code Calendar}
     * that method makes on every call; for PostgreSQL it is a {@code Timestamp}.
     */
    public static void setInstant(PreparedStatement prepared, int index, Instant instant) throws SQLException {
        if (prepared.isWrapperFor(JDBC3PreparedStatement.class)) {
            prepared.setLong(index, instant.toEpochMilli());
        } else {
            prepared.setTimestamp(index, Timestamp.from(instant));
        }
    }

    public static Instant instant(ResultSet row, String column) throws SQLException {
        Timestamp timestamp = row.getTimestamp(column);
        return timestamp == null ? null : timestamp.toInstant();
    }

    /** Whether the failure is a unique-key violation (SQLState 23505 in PostgreSQL, a constraint code in SQLite). */
    public static boolean isUniqueViolation(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof SQLiteException sqlite && (sqlite.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE
                    || sqlite.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_PRIMARYKEY)) {
                return true;
            }
            if (t instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    private RuntimeException translate(SQLException e) {
        String state = e.getSQLState();
        boolean connectionFailed = state != null && state.startsWith("08");
        // The pool's timeout carries the last connection failure as its cause; without one, the pool was only busy.
        if (e instanceof SQLTransientConnectionException && e.getCause() != null) {
            connectionFailed = true;
        }
        if (connectionFailed) {
            health.markDown(e);
        }
        if (connectionFailed || e instanceof SQLTransientConnectionException) {
            return DatabaseHealth.unavailable(e);
        }
        return new IllegalStateException("database statement failed (SQLState " + state + ")", e);
    }
}
