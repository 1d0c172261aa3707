package dev.parley.server.db;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies the embedded database's write-ahead log into the database file on a thread of its own. SQLite's automatic
 * checkpoint runs inside the commit that takes the log past 1,000 pages and waits there for two syncs to the disk;
 * on the run journal's connection every event queued behind that commit waits with it, about 15 times a second under
 * load (docs/benchmarks.md). So the pools' connections turn it off ({@link #DISABLE_AUTOMATIC}), and this thread runs
 * {@code PASSIVE} checkpoints instead, which copy what is committed while writers and readers go on: one
 * {@link #BUSY_INTERVAL} after the last while commits keep coming, backing off to one every {@link #IDLE_INTERVAL} when
 * none come. Small, frequent checkpoints keep each sync short; a sync of the file system also holds up the writes of
 * the commits beside it, for longer the more it has to write.
 *
 * <p>The log starts again from its beginning only when a write begins after everything in it was copied, which
 * passive checkpoints alone do not bring about while commits keep coming. When the log holds more than
 * {@link #RESTART_FRAMES} frames, a {@code RESTART} checkpoint makes writers wait while it copies what came since the
 * last one and syncs, so that the next commit starts the log over: the log stays at about 16 MB.
 */
final class WalCheckpointer implements AutoCloseable {
    /** Run on every pooled connection to the embedded database. */
    static final String DISABLE_AUTOMATIC = "PRAGMA wal_autocheckpoint=0";
    static final Duration BUSY_INTERVAL = Duration.ofMillis(3);
    static final Duration IDLE_INTERVAL = Duration.ofMillis(100);
    static final long RESTART_FRAMES = 4_096;
    private static final Logger LOG = LoggerFactory.getLogger(WalCheckpointer.class);

    private final Connection connection;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long restarts;

    private WalCheckpointer(Connection connection) {
        this.connection = connection;
        this.thread = Thread.ofPlatform().name("parley-db-checkpoint").daemon().unstarted(this::loop);
    }

    /** Starts checkpointing the database of {@code jdbcUrl} (an embedded SQLite URL) on its own connection. */
    static WalCheckpointer start(String jdbcUrl) {
        try {
            WalCheckpointer checkpointer = new WalCheckpointer(new SqliteDataSource(jdbcUrl).getConnection());
            checkpointer.thread.start();
            return checkpointer;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open the checkpoint connection to the embedded database", e);
        }
    }

    private void loop() {
        boolean failing = false;
        long lastFrames = -1;
        Duration pause = BUSY_INTERVAL;
        while (running) {
            try {
                Thread.sleep(pause);
                long frames = checkpoint("PASSIVE");
                if (frames > RESTART_FRAMES && running) {
                    checkpoint("RESTART");
                    restarts = restarts + 1;
                }
                pause = frames != lastFrames ? BUSY_INTERVAL : min(pause.multipliedBy(2), IDLE_INTERVAL);
                lastFrames = frames;
                if (failing) {
                    LOG.info("Checkpoints of the embedded database work again");
                    failing = false;
                }
            } catch (InterruptedException e) {
                return;
            } catch (SQLException e) {
                pause = IDLE_INTERVAL;
                if (!failing && running) {
                    LOG.warn("A checkpoint of the embedded database failed; its log grows until one works: {}",
                            e.getMessage());
                    failing = true;
                }
            }
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
    /** Runs one checkpoint and returns how many frames the log held. */
    long checkpoint(String mode) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("PRAGMA wal_checkpoint(" + mode + ")")) {
            return result.next() ? result.getLong(2) : 0;
        }
    }

    long restarts() {
        return restarts;
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            connection.close();
        } catch (SQLException e) {
            LOG.debug("Closing the checkpoint connection failed", e);
        }
    }
}
