package dev.parley.server.db;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;
import org.sqlite.BusyHandler;
import org.sqlite.JDBC;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteDataSource;

/**
 * Connections to the embedded database that wait for its lock in steps of a tenth of a millisecond. SQLite's own
 * busy handler sleeps 1, 2, 5, 10, 15, 20 and then 25 ms between tries, so a writer held up for 6 ms by a
 * checkpoint ({@link WalCheckpointer}) gets the lock after 8 ms, and one held up for 9 ms after 18 ms; here it gets
 * it within a tenth of a millisecond of its release for the first {@link #FINE_FOR}, then within a millisecond, up
 * to {@link Database#SQLITE_BUSY_TIMEOUT} in all.
 */
final class SqliteDataSource extends SQLiteDataSource {
    static final Duration FINE_FOR = Duration.ofMillis(20);
    private static final long FINE_STEP_NANOS = 100_000;
    private static final long COARSE_STEP_NANOS = 1_000_000;

    SqliteDataSource(String jdbcUrl) {
        setUrl(jdbcUrl);
    }

    @Override
    public SQLiteConnection getConnection(String username, String password) throws SQLException {
        // Through the driver with no settings of its own, as DriverManager would connect: the data source's own
        // configuration would override the URL's settings with its defaults (DEFERRED transactions, generated keys
        // fetched after every insert).
        SQLiteConnection connection = JDBC.createConnection(getUrl(), new Properties());
        BusyHandler.setHandler(connection, new BusyWait());
        return connection;
    }

    /** One connection's handler: SQLite calls it on the thread that uses the connection, one call at a time. */
    private static final class BusyWait extends BusyHandler {
        private long since;

        @Override
        protected int callback(int previousCalls) {
            long now = System.nanoTime();
            if (previousCalls == 0) {
                since = now;
            }
            long waited = now - since;
            if (waited >= Database.SQLITE_BUSY_TIMEOUT.toNanos()) {
                return 0;
            }
            LockSupport.parkNanos(waited < FINE_FOR.toNanos() ? FINE_STEP_NANOS : COARSE_STEP_NANOS);
            return 1;
        }
    }
}
