package dev.parley.server.db;

import static dev.parley.server.db.MigrationsTest.history;
import static dev.parley.server.db.MigrationsTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.server.testing.TestDatabases;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** The schema's scripts applied to the test PostgreSQL, each case in a fresh schema (skipped without one). */
class PostgresMigrationsTest {
    private DataSource dataSource;

    @BeforeEach
    void freshSchema() {
        PGSimpleDataSource source = new PGSimpleDataSource();
        source.setURL(TestDatabases.freshPostgresSchema());
        dataSource = source;
    }

    @Test
    void freshDatabaseGetsEveryScriptRecordedAsFlywayRecordsThem() throws SQLException {
        assertThat(Migrations.load("db/migration").apply(dataSource, true)).isEqualTo(8);

        List<String> rows = history(dataSource);
        assertThat(rows).containsExactly(
                "1 1 accounts conversations runs SQL V1__accounts_conversations_runs.sql 1444812984 'postgres' true",
                "2 3 run ownership and socket tickets SQL V3__run_ownership_and_socket_tickets.sql -1219343508"
                        + " 'postgres' true",
                "3 4 usage events SQL V4__usage_events.sql -436820827 'postgres' true",
                "4 5 oidc SQL V5__oidc.sql 1385492328 'postgres' true",
                "5 6 run stop requests SQL V6__run_stop_requests.sql -1199072944 'postgres' true",
                "6 7 spend budgets SQL V7__spend_budgets.sql 1485060177 'postgres' true",
                "7 20 tool approvals SQL V20__tool_approvals.sql 2094638602 'postgres' true",
                "8 21 mcp credentials SQL V21__mcp_credentials.sql -1028213154 'postgres' true");
        assertThat(Migrations.load("db/migration").apply(dataSource, true)).isZero();
    }

    @Test
    void olderDatabaseGetsOnlyTheMissingScripts() throws SQLException {
        Migrations.load("db/migration").apply(dataSource, true);
        run(dataSource, "DROP TABLE mcp_credentials; DELETE FROM flyway_schema_history WHERE version = '21'");

        assertThat(Migrations.load("db/migration").apply(dataSource, true)).isEqualTo(1);

        assertThat(history(dataSource)).hasSize(8).last().asString().startsWith("8 21 mcp credentials");
    }

    @Test
    void changedScriptRefusesToStart() throws SQLException {
        Migrations.load("db/migration").apply(dataSource, true);
        run(dataSource, "UPDATE flyway_schema_history SET checksum = 12345 WHERE version = '5'");

        assertThatThrownBy(() -> Migrations.load("db/migration").apply(dataSource, true))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("V5__oidc.sql has checksum 1385492328 but was applied with checksum 12345");
    }

    @Test
    void scriptsWithDollarQuotesAndSemicolonsRunWholeInVersionOrder() throws SQLException {
        assertThat(Migrations.load("migrations-test/postgresql").apply(dataSource, true)).isEqualTo(3);
        try (Connection connection = dataSource.getConnection();
             Statement statement = connection.createStatement();
             ResultSet notes = statement.executeQuery("SELECT body, note_count() FROM notes ORDER BY id")) {
            assertThat(notes.next()).isTrue();
            assertThat(notes.getString(1)).isEqualTo("it's; here");
            assertThat(notes.getLong(2)).isEqualTo(2);
            assertThat(notes.next()).isTrue();
            assertThat(notes.getString(1)).isEqualTo("x;y");
        }
        run(dataSource, "INSERT INTO later (id, note) VALUES (1, 'added by V10')");
    }

    @Test
    void failedScriptLeavesNothingOfItselfAndKeepsTheOnesBefore() throws SQLException {
        assertThatThrownBy(() -> Migrations.load("migrations-test/postgresql-failing").apply(dataSource, true))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("V2__half.sql failed")
                .hasMessageContaining("\"missing\" does not exist");

        assertThat(history(dataSource)).extracting(row -> row.split(" ")[4]).containsExactly("V1__notes.sql");
        assertThatThrownBy(() -> run(dataSource, "SELECT * FROM half")).hasMessageContaining("does not exist");
    }

    @Test
    void instancesStartingAtOnceApplyEachScriptOnce() throws Exception {
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService threads = Executors.newFixedThreadPool(3);
        List<CompletableFuture<Integer>> instances = List.of(1, 2, 3).stream()
                .map(i -> CompletableFuture.supplyAsync(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                    return Migrations.load("db/migration").apply(dataSource, true);
                }, threads))
                .toList();
        start.countDown();

        int applied = 0;
        try {
            for (CompletableFuture<Integer> instance : instances) {
                applied += instance.get(60, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
        assertThat(applied).isEqualTo(8);
        assertThat(history(dataSource)).extracting(row -> row.split(" ")[1])
                .containsExactly("1", "3", "4", "5", "6", "7", "20", "21");
    }
}
