package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded database's log is copied by its own thread, and its connections wait for each other's locks. */
class WalCheckpointerTest {
    @TempDir
    Path dir;
    private Database database;
    private String url;

    @BeforeEach
    void open() {
        url = Database.sqliteUrl(dir.resolve("parley.db"));
        database = Database.open(url, 2);
        database.sql().update("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    }

    @AfterEach
    void close() {
        database.close();
    }

    private static long pragma(Connection connection, String name) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("PRAGMA " + name)) {
            result.next();
            return result.getLong(1);
        }
    }

    /** Frames in the log, and frames of it copied into the database file (after this call's own checkpoint). */
    private long[] logState() throws SQLException {
        try (Connection connection = DriverManager.getConnection(url);
             Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
            result.next();
            return new long[] {result.getLong(2), result.getLong(3)};
        }
    }

    private void insertMegabytes(int count) {
        database.sql().inTransaction(connection -> {
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO blobs (body) VALUES (?)")) {
                for (int i = 0; i < count; i++) {
                    insert.setBytes(1, new byte[1 << 20]);
                    insert.executeUpdate();
                }
            }
            return null;
        });
    }

    @Test
    void pooledConnectionsKeepTheirSettingsAndLeaveCheckpointsToTheThread() throws SQLException {
        try (Connection connection = database.dataSource().getConnection()) {
            assertThat(pragma(connection, "wal_autocheckpoint")).isZero();
            assertThat(pragma(connection, "foreign_keys")).isEqualTo(1);
            try (Statement statement = connection.createStatement();
                 ResultSet mode = statement.executeQuery("PRAGMA journal_mode")) {
                mode.next();
                assertThat(mode.getString(1)).isEqualTo("wal");
            }
        }
    }

    @Test
    void whatIsCommittedIsCopiedIntoTheDatabaseFileByTheThread() throws Exception {
        Path file = dir.resolve("parley.db");
        long before = Files.size(file);
        insertMegabytes(2);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Files.size(file) < before + (2 << 20) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(Files.size(file)).as("the database file, which only checkpoints write").isGreaterThan(before + (2 << 20));
    }

    @Test
    void aLogPastItsLimitIsStartedOverByTheNextCommit() throws Exception {
        insertMegabytes(20); // about 5,100 frames of 4 KiB, over RESTART_FRAMES
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (database.checkpointRestarts() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(database.checkpointRestarts()).isPositive();
        database.sql().update("INSERT INTO blobs (body) VALUES (?)", (Object) new byte[100]);
        assertThat(logState()[0]).as("frames in the log after the next commit").isLessThan(100);
    }

    @Test
    void aWriterWaitsForAnotherWritersLockAndThenCommits() throws Exception {
        CountDownLatch locked = new CountDownLatch(1);
        CompletableFuture<Void> holder = CompletableFuture.runAsync(() -> database.sql().inTransaction(connection -> {
            try (Statement statement = connection.createStatement()) {
                statement.executeUpdate("INSERT INTO blobs (body) VALUES (x'01')");
            }
            locked.countDown();
            LockSupport.parkNanos(Duration.ofMillis(200).toNanos());
            return null;
        }));
        assertThat(locked.await(5, TimeUnit.SECONDS)).isTrue();
        database.sql().update("INSERT INTO blobs (body) VALUES (x'02')");
        holder.get(5, TimeUnit.SECONDS);
        assertThat(database.sql().queryOne("SELECT COUNT(*) FROM blobs", row -> row.getLong(1))).hasValue(2L);
    }
}
