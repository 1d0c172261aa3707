package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeptStatementsTest {
    private static final String INSERT = "INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)";
    private static final String IDS = "SELECT id FROM users ORDER BY id";

    @TempDir
    Path dir;
    private Database database;
    private Sql single; // a pool of one connection

    @BeforeEach
    void open() {
        database = Database.open(Database.sqliteUrl(dir.resolve("parley.db")), 4);
        single = database.eventLogSql();
    }

    @AfterEach
    void close() {
        database.close();
    }

    private void insert(String id) {
        single.inTransaction(connection -> Sql.update(connection, INSERT, id, id + "@example.com", id, Instant.EPOCH));
    }

    private List<String> ids() {
        return single.withConnection(connection -> Sql.query(connection, IDS, row -> row.getString(1)));
    }

    private PreparedStatement preparedAndReleased(String statement) {
        return single.withConnection(connection -> {
            PreparedStatement prepared = Sql.prepare(connection, statement);
            Sql.release(prepared);
            return prepared;
        });
    }

    @Test
    void aConnectionHandsOutTheSameStatementAgainWithItsNewParameters() throws Exception {
        PreparedStatement first = preparedAndReleased(INSERT);
        insert("a");
        insert("b");
        insert("c");

        assertThat(preparedAndReleased(INSERT)).isSameAs(first);
        assertThat(first.isClosed()).isFalse();
        assertThat(ids()).containsExactly("a", "b", "c");
        assertThat(ids()).containsExactly("a", "b", "c");
    }

    @Test
    void theSameTextAskedForWhileItsStatementIsInUseGetsOneOfItsOwn() {
        insert("a");
        insert("b");

        List<String> pairs = single.withConnection(connection -> Sql.query(connection, IDS,
                row -> row.getString(1) + Sql.query(connection, IDS, inner -> inner.getString(1))));

        assertThat(pairs).containsExactly("a[a, b]", "b[a, b]");
    }

    @Test
    void aStatementThatFailedIsNotHandedOutAgainAndTheNextOnesRun() throws Exception {
        insert("a");
        PreparedStatement before = preparedAndReleased(INSERT);
        assertThatThrownBy(() -> insert("a")).isInstanceOf(IllegalStateException.class);

        insert("b");

        assertThat(before.isClosed()).isTrue();
        assertThat(ids()).containsExactly("a", "b");
    }

    @Test
    void aRolledBackTransactionLeavesNothingAndTheStatementsStillRun() {
        assertThatThrownBy(() -> single.inTransaction(connection -> {
            Sql.update(connection, INSERT, "x", "x@example.com", "x", Instant.EPOCH);
            throw new IllegalArgumentException("refused after the insert");
        })).isInstanceOf(IllegalArgumentException.class);

        insert("y");

        assertThat(ids()).containsExactly("y");
    }
}
