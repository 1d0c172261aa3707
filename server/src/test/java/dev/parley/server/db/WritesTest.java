package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WritesTest {
    private static final String USER = "INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)";
    private static final String THREAD = "INSERT INTO threads (id, user_id, title, created_at, updated_at, "
            + "message_count) VALUES (?, ?, ?, ?, ?, 0)";
    private static final String RENAME = "UPDATE threads SET title = ? WHERE id = ?";

    @TempDir
    Path dir;
    private Database database;

    @BeforeEach
    void open() {
        database = Database.open(Database.sqliteUrl(dir.resolve("parley.db")), 2);
    }

    @AfterEach
    void close() {
        database.close();
    }

    private List<String> titles() {
        return database.sql().query("SELECT title FROM threads ORDER BY id", row -> row.getString(1));
    }

    @Test
    void rowsRunInTheGivenOrderOfStatementsSoThatAChildQueuedBeforeItsParentStillFindsIt() {
        Writes writes = new Writes(List.of(USER, THREAD, RENAME));
        Instant now = Instant.EPOCH;
        writes.expectOneRow(RENAME, () -> new IllegalStateException("no thread t1"), "renamed", "t1");
        writes.add(THREAD, "t1", "u1", "first", now, now);
        writes.add(THREAD, "t2", "u2", "second", now, now);
        writes.add(USER, "u1", "u1@example.com", "u1", now);
        writes.add(USER, "u2", "u2@example.com", "u2", now);

        database.sql().inTransaction(connection -> {
            writes.flush(connection);
            return null;
        });

        assertThat(titles()).containsExactly("renamed", "second");
        assertThat(writes.isEmpty()).isTrue();
    }

    @Test
    void aWriteThatMustChangeOneRowAndChangesNoneFailsWithWhatItSuppliesAndTheTransactionRollsBack() {
        Writes writes = new Writes(List.of(USER, RENAME));
        writes.add(USER, "u1", "u1@example.com", "u1", Instant.EPOCH);
        writes.expectOneRow(RENAME, () -> new IllegalArgumentException("no thread t9"), "renamed", "t9");

        assertThatThrownBy(() -> database.sql().inTransaction(connection -> {
            writes.flush(connection);
            return null;
        })).isInstanceOf(IllegalArgumentException.class).hasMessage("no thread t9");
        assertThat(database.sql().query("SELECT id FROM users", row -> row.getString(1))).isEmpty();
    }

    @Test
    void aFailureOfASingleRowIsTranslatedByItsWrite() {
        database.sql().update(USER, "u1", "u1@example.com", "u1", Instant.EPOCH);
        Writes writes = new Writes(List.of());
        writes.add(USER, failure -> Sql.isUniqueViolation(failure) ? new IllegalStateException("taken") : null,
                "u1", "again@example.com", "u1", Instant.EPOCH);

        assertThatThrownBy(() -> database.sql().inTransaction(connection -> {
            writes.flush(connection);
            return null;
        })).isInstanceOf(IllegalStateException.class).hasMessage("taken");
    }
}
