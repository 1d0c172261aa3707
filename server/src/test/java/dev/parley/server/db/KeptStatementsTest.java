package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeptStatementsTest {
    private static final String INSERT = "INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)";

    @TempDir
    Path dir;
    private Database database;

    @BeforeEach
    void open() {
        database = Database.open(Database.sqliteUrl(dir.resolve("parley.db")), 4);
        Sql.keepStatements();
    }

    @AfterEach
    void close() {
        Sql.dropStatements();
        database.close();
    }

    private void insert(String id) {
        database.sql().inTransaction(connection -> Sql.update(connection, INSERT, id, id + "@example.com", id,
                java.time.Instant.EPOCH));
    }

    private List<String> ids() {
        return database.sql().withConnection(connection -> Sql.query(connection, "SELECT id FROM users ORDER BY id",
                row -> row.getString(1)));
    }

    @Test
    void aKeptStatementRunsAgainInLaterTransactionsWithItsNewParameters() {
        insert("a");
        insert("b");
        insert("c");

        assertThat(ids()).containsExactly("a", "b", "c");
        assertThat(ids()).containsExactly("a", "b", "c");
    }

    @Test
    void theSameStatementIsHandedOutAgainOnTheSameConnectionUntilDropped() {
        Sql single = database.eventLogSql(); // a pool of one connection
        var first = single.withConnection(connection -> Sql.prepare(connection, INSERT));
        var again = single.withConnection(connection -> Sql.prepare(connection, INSERT));
        Sql.dropStatements();
        var afterDrop = single.withConnection(connection -> Sql.prepare(connection, INSERT));

        assertThat(again).isSameAs(first);
        assertThat(afterDrop).isNotSameAs(first);
    }

    @Test
    void afterAFailedStatementAndADropTheNextOnesRun() {
        insert("a");
        assertThatThrownBy(() -> insert("a")).isInstanceOf(IllegalStateException.class);
        Sql.dropStatements();

        insert("b");

        assertThat(ids()).containsExactly("a", "b");
    }

    @Test
    void aRolledBackTransactionLeavesNothingAndTheStatementsStillRun() {
        assertThatThrownBy(() -> database.sql().inTransaction(connection -> {
            Sql.update(connection, INSERT, "x", "x@example.com", "x", java.time.Instant.EPOCH);
            throw new IllegalArgumentException("refused after the insert");
        })).isInstanceOf(IllegalArgumentException.class);

        insert("y");

        assertThat(ids()).containsExactly("y");
    }
}
