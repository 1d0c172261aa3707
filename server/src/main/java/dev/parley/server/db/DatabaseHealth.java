package dev.parley.server.db;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the database is known to be down: one signal that the pools' users, the run journal and readiness share,
 * so that while PostgreSQL is unreachable every request and socket message is refused at once
 * ({@code upstream_unavailable} with {@code retry_after_ms}) instead of each waiting out a connection timeout.
 *
 * <p>A failure to get or use a connection marks it down at once; a probe on a connection of its own, outside the
 * pools, checks every {@link #PROBE_EVERY} with short timeouts (so that a database that accepts connections and never
 * answers is found as fast as one that refuses them) and marks it up again when it answers. A probe that gets no
 * answer by its deadline marks the database down only when no pooled statement has finished since the probe began:
 * a database that answers everyone else is slow, not gone. The embedded database has no network to lose: its signal
 * stays up. Thread-safe.
 */
public final class DatabaseHealth implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseHealth.class);
    static final Duration PROBE_EVERY = Duration.ofMillis(100);
    /**
     * How long the probe waits for an answer before it counts the database as down (a check goes on meanwhile). With
     * {@link #PROBE_EVERY}, a database that goes silent is marked down within 400 ms of its last answer.
     */
    static final Duration PROBE_DEADLINE = Duration.ofMillis(300);
    static final int PROBE_TIMEOUT_SECONDS = 1;
    /**
     * The deadline while the probe opens its connection (at start, and after an outage): a new connection costs a
     * TCP and authentication round trip, and a cold one more, so it gets the connect timeout rather than
     * {@link #PROBE_DEADLINE}.
     */
    static final Duration CONNECT_DEADLINE = Duration.ofSeconds(PROBE_TIMEOUT_SECONDS).plusMillis(200);
    /** What a refused client is told to wait: about the time until the next probes could bring it back. */
    public static final Duration RETRY_AFTER = Duration.ofSeconds(1);

    private final String jdbcUrl;
    private final boolean probed;
    private final Thread prober;
    private volatile boolean down;
    /** {@link System#nanoTime()} when a pooled statement last finished without a failure. */
    private volatile long lastAnswer;
    /** {@link System#nanoTime()} when the database last came back after being down; long ago when it never was. */
    private volatile long upSince = System.nanoTime() - TimeUnit.DAYS.toNanos(1);
    private volatile boolean closed;
    private volatile Runnable onRecovered = () -> { };
    private final Set<Connection> inUse = ConcurrentHashMap.newKeySet();
    private Connection probe;
    private volatile boolean probeConnected;
    private CompletableFuture<Boolean> check;

    private DatabaseHealth(String jdbcUrl, boolean probed) {
        this.jdbcUrl = jdbcUrl;
        this.probed = probed;
        this.lastAnswer = System.nanoTime() - TimeUnit.HOURS.toNanos(1);
        this.prober = probed ? Thread.ofVirtual().name("parley-db-probe").unstarted(this::probeLoop) : null;
    }

    /** A signal for the database at {@code jdbcUrl}; PostgreSQL is probed, the embedded database is not. */
    static DatabaseHealth start(String jdbcUrl, boolean embedded) {
        DatabaseHealth health = new DatabaseHealth(jdbcUrl, !embedded);
        if (health.prober != null) {
            health.prober.start();
        }
        return health;
    }

    /** Runs when the database answers again after being down (the pools drop the connections the outage broke). */
    void onRecovered(Runnable action) {
        this.onRecovered = action;
    }

    public boolean isDown() {
        return down;
    }

    /** How long the database has answered since it was last down; zero while it is down. */
    public Duration answeringFor() {
        return down ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - upSince);
    }

    /** Throws {@code upstream_unavailable} at once while the database is known to be down. */
    public void requireUp() {
        if (down) {
            throw unavailable(null);
        }
    }

    /** The answer to a caller while the database is down (or its connection just failed). */
    public static ProtocolException unavailable(Throwable cause) {
        return new ProtocolException(ErrorCode.UPSTREAM_UNAVAILABLE, "The database is unavailable; try again shortly.",
                Map.of("retry_after_ms", RETRY_AFTER.toMillis()), cause);
    }

    /** A pooled connection in use by a caller; {@link #markDown} aborts it rather than let it wait. */
    void track(Connection connection) {
        if (probed) {
            inUse.add(connection);
        }
    }

    void untrack(Connection connection) {
        if (probed) {
            inUse.remove(connection);
        }
    }

    /** A pooled caller's work finished without a failure: the database answered. */
    void answered() {
        if (probed) {
            lastAnswer = System.nanoTime();
        }
    }

    /**
     * A connection could not be had or broke: down until a probe says otherwise. The connections in use are aborted:
     * a statement waiting on a database that went silent fails now, and its transaction can no longer commit behind
     * the back of a caller that was told it failed.
     */
    void markDown(Throwable cause) {
        if (!probed || down) {
            return;
        }
        down = true;
        LOG.warn("Database marked down: {}", describe(cause));
        for (Connection connection : inUse) {
            try {
                connection.abort(Runnable::run);
            } catch (SQLException | RuntimeException e) {
                LOG.debug("Aborting a connection in use failed: {}", e.toString());
            }
        }
    }

    /** The failure without its message: a driver's message can quote the statement, and with it a user's text. */
    private static String describe(Throwable cause) {
        if (cause == null) {
            return "the probe got no answer";
        }
        return cause instanceof SQLException sql && sql.getSQLState() != null
                ? cause.getClass().getSimpleName() + " (SQLState " + sql.getSQLState() + ")"
                : cause.getClass().getSimpleName();
    }

    private void probeLoop() {
        while (!closed) {
            long began = System.nanoTime();
            boolean answered = answers();
            if (answered && down) {
                onRecovered.run();
                upSince = System.nanoTime();
                down = false;
                LOG.info("Database answers again; marked up");
            } else if (!answered && (down || lastAnswer - began <= 0)) {
                markDown(null);
            }
            try {
                Thread.sleep(PROBE_EVERY);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /**
     * Whether the database answered within {@link #PROBE_DEADLINE}. The check runs on a thread of its own: one that
     * hangs (a database that accepted and went silent) is left to its timeouts while the answer here is no.
     */
    private boolean answers() {
        if (check == null || check.isDone()) {
            check = CompletableFuture.supplyAsync(this::checkOnce,
                    task -> Thread.ofVirtual().name("parley-db-check").start(task));
        }
        Duration deadline = probeConnected ? PROBE_DEADLINE : CONNECT_DEADLINE;
        try {
            return check.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private synchronized boolean checkOnce() {
        try {
            if (probe == null) {
                Properties properties = new Properties();
                properties.setProperty("connectTimeout", Integer.toString(PROBE_TIMEOUT_SECONDS));
                properties.setProperty("loginTimeout", Integer.toString(PROBE_TIMEOUT_SECONDS));
                properties.setProperty("socketTimeout", Integer.toString(PROBE_TIMEOUT_SECONDS + 1));
                probe = DriverManager.getConnection(jdbcUrl, properties);
                probeConnected = true;
            }
            if (probe.isValid(PROBE_TIMEOUT_SECONDS)) {
                return true;
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Database probe failed: {}", e.toString());
        }
        closeProbe();
        return false;
    }

    private synchronized void closeProbe() {
        probeConnected = false;
        if (probe != null) {
            try {
                probe.close();
            } catch (SQLException ignored) {
                // the connection is being thrown away because it failed
            }
            probe = null;
        }
    }

    @Override
    public void close() {
        closed = true;
        if (prober != null) {
            prober.interrupt();
            try {
                prober.join(Duration.ofSeconds(3));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            closeProbe();
        }
    }
}
