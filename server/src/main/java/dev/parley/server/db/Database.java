package dev.parley.server.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.parley.server.config.Config;
import dev.parley.server.health.HealthCheck;
import dev.parley.server.observe.Metrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relational database: an embedded SQLite file in the data directory (write-ahead log, so that readers never wait
 * for the writer), or PostgreSQL when a URL is configured. Owns the connection pools and applies the schema
 * migrations at start ({@link Migrations}): db/migration for PostgreSQL, db/sqlite for SQLite (the same schema in
 * SQLite's terms).
 *
 * <p>SQLite takes one writer at a time: every transaction begins {@code IMMEDIATE} (it takes the write lock at once,
 * so two transactions never deadlock on upgrading a read lock), and a writer that finds the lock taken waits for it
 * up to {@link #SQLITE_BUSY_TIMEOUT}. A commit writes the log without waiting for the disk ({@code synchronous=NORMAL}):
 * what was committed survives the process being killed; the last commits before a power loss may not. The log is
 * copied into the database file by {@link WalCheckpointer} on a thread of its own, not inside the commits.
 */
public final class Database implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Database.class);
    static final Duration SQLITE_BUSY_TIMEOUT = Duration.ofSeconds(10);

    private final HikariDataSource dataSource;
    private final HikariDataSource eventLogSource;
    private final boolean embedded;
    private final Sql sql;
    private final Sql eventLogSql;
    private final DatabaseHealth health;
    private final WalCheckpointer checkpointer; // embedded only

    private Database(HikariDataSource dataSource, HikariDataSource eventLogSource, boolean embedded,
                     DatabaseHealth health, WalCheckpointer checkpointer) {
        this.checkpointer = checkpointer;
        this.dataSource = dataSource;
        this.eventLogSource = eventLogSource;
        this.embedded = embedded;
        this.health = health;
        this.sql = new Sql(dataSource, embedded, health);
        this.eventLogSql = new Sql(eventLogSource, embedded, health);
        health.onRecovered(() -> {
            // Connections the outage broke would fail the first requests after it.
            evict(dataSource);
            evict(eventLogSource);
        });
    }

    public static Database open(Config.Storage storage) {
        String url = storage.databaseUrl().orElseGet(() -> embeddedUrl(storage.dataDir()));
        return open(url, storage.poolSize());
    }

    /** Opens a pool on a JDBC URL and migrates the schema; the URL picks embedded SQLite or PostgreSQL. */
    public static Database open(String jdbcUrl, int poolSize) {
        boolean embedded = jdbcUrl.startsWith("jdbc:sqlite:");
        HikariDataSource dataSource = pool(jdbcUrl, "parley-db", poolSize, Math.min(2, poolSize));
        HikariDataSource eventLogSource = null;
        WalCheckpointer checkpointer = null;
        long migrating = System.nanoTime();
        long migrated;
        int applied;
        try {
            applied = Migrations.load(embedded ? "db/sqlite" : "db/migration").apply(dataSource, !embedded);
            migrated = System.nanoTime();
            // No idle minimum: the pool then makes no attempts of its own while the database is down, whose growing
            // back-off would delay the journal's first write after it is back by up to seconds.
            eventLogSource = pool(jdbcUrl, "parley-db-events", 1, 0);
            if (embedded) {
                checkpointer = WalCheckpointer.start(jdbcUrl);
            }
        } catch (RuntimeException e) {
            if (eventLogSource != null) {
                eventLogSource.close();
            }
            dataSource.close();
            throw e;
        }
        LOG.info("Database ready: {} (pool {}, and one connection for the run event log; schema migrations {} ms,"
                + " {} applied)", embedded ? "embedded SQLite" : "PostgreSQL", poolSize,
                (migrated - migrating) / 1_000_000, applied);
        return new Database(dataSource, eventLogSource, embedded, DatabaseHealth.start(jdbcUrl, embedded), checkpointer);
    }

    private static HikariDataSource pool(String jdbcUrl, String name, int size, int minimumIdle) {
        HikariConfig hikari = new HikariConfig();
        if (jdbcUrl.startsWith("jdbc:sqlite:")) {
            hikari.setDataSource(new SqliteDataSource(jdbcUrl));
            hikari.setConnectionInitSql(WalCheckpointer.DISABLE_AUTOMATIC);
        } else {
            hikari.setJdbcUrl(jdbcUrl);
        }
        hikari.setPoolName(name);
        hikari.setMaximumPoolSize(size);
        hikari.setMinimumIdle(minimumIdle);
        hikari.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
        hikari.setValidationTimeout(Duration.ofSeconds(2).toMillis());
        hikari.setInitializationFailTimeout(Duration.ofSeconds(10).toMillis());
        if (jdbcUrl.startsWith("jdbc:postgresql:")) {
            // A server that accepts connections and never answers must not hold a statement forever; URL
            // parameters of the same names win over these.
            hikari.addDataSourceProperty("connectTimeout", "5");
            hikari.addDataSourceProperty("socketTimeout", "30");
            // Without it the driver quotes a failed batch's statements with their values (users' text) in the
            // exception, which the pool then logs.
            hikari.addDataSourceProperty("logServerErrorDetail", "false");
            // A batch of inserts (the run journal's events, messages, runs) goes out as multi-row INSERTs rather
            // than one statement per row; no caller reads an insert's row count from a batch.
            hikari.addDataSourceProperty("reWriteBatchedInserts", "true");
        }
        return new HikariDataSource(hikari);
    }

    private static void evict(HikariDataSource pool) {
        if (pool.getHikariPoolMXBean() != null) {
            pool.getHikariPoolMXBean().softEvictConnections();
        }
    }

    static String embeddedUrl(Path dataDir) {
        try {
            Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data directory " + dataDir.toAbsolutePath(), e);
        }
        return sqliteUrl(dataDir.toAbsolutePath().normalize().resolve("parley.db"));
    }

    /** The JDBC URL of a SQLite file with the settings every connection to it needs. */
    public static String sqliteUrl(Path file) {
        return "jdbc:sqlite:" + file + "?journal_mode=WAL&synchronous=NORMAL&foreign_keys=true"
                + "&transaction_mode=IMMEDIATE&jdbc.get_generated_keys=false&busy_timeout=" + SQLITE_BUSY_TIMEOUT.toMillis();
    }

    public DataSource dataSource() {
        return dataSource;
    }

    public Sql sql() {
        return sql;
    }

    /**
     * The run event log's own connection (a pool of one beside the main pool): the writer that commits the running
     * runs' events never waits behind the requests it competes with, so how far it is behind measures the
     * database's write throughput, not the main pool's queue.
     */
    public Sql eventLogSql() {
        return eventLogSql;
    }

    /** How many times the embedded database's log was made to start over (0 for PostgreSQL). */
    long checkpointRestarts() {
        return checkpointer == null ? 0 : checkpointer.restarts();
    }

    public boolean embedded() {
        return embedded;
    }

    /**
     * Whether the database serves: for PostgreSQL the shared signal (kept by a probe, so that readiness answers at
     * once during an outage); for the embedded file, whether a connection can be had and answers.
     */
    public boolean isUp() {
        if (!embedded) {
            return !health.isDown();
        }
        try (Connection connection = dataSource.getConnection()) {
            return connection.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    /** Readiness's {@code database} check: the instance cannot serve without it. */
    public HealthCheck healthCheck() {
        return HealthCheck.required("database", this::isUp);
    }

    /** Puts the pool's gauges on /metrics. */
    public void registerGauges(Metrics metrics) {
        metrics.gauge("parley_db_pool_active", "Database connections in use.", this::activeConnections);
        metrics.gauge("parley_db_pool_idle", "Idle database connections.", this::idleConnections);
        metrics.gauge("parley_db_pool_pending", "Threads waiting for a database connection.", this::pendingThreads);
        metrics.gauge("parley_db_pool_max", "Maximum database connections.", this::maxConnections);
    }

    public int activeConnections() {
        return dataSource.getHikariPoolMXBean() == null ? 0 : dataSource.getHikariPoolMXBean().getActiveConnections();
    }

    public int idleConnections() {
        return dataSource.getHikariPoolMXBean() == null ? 0 : dataSource.getHikariPoolMXBean().getIdleConnections();
    }

    public int pendingThreads() {
        return dataSource.getHikariPoolMXBean() == null ? 0 : dataSource.getHikariPoolMXBean().getThreadsAwaitingConnection();
    }

    public int maxConnections() {
        return dataSource.getMaximumPoolSize();
    }

    @Override
    public void close() {
        health.close();
        if (checkpointer != null) {
            checkpointer.close();
        }
        eventLogSource.close();
        dataSource.close();
    }
}
