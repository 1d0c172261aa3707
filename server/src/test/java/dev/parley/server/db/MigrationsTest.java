package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The schema's scripts applied to real SQLite files, with Flyway's history table and checksums. */
class MigrationsTest {
    @TempDir
    Path dir;

    /** What Flyway 13.12.1 stored for each script (version, checksum), read from databases it migrated. */
    static final Map<String, Integer> FLYWAY_SQLITE_CHECKSUMS = ordered(
            "1", 572489296, "2", -913884109, "20", 323136673, "21", 980102777);
    static final Map<String, Integer> FLYWAY_POSTGRESQL_CHECKSUMS = ordered(
            "1", 1444812984, "3", -1219343508, "4", -436820827, "5", 1385492328,
            "6", -1199072944, "7", 1485060177, "20", 2094638602, "21", -1028213154);

    private static Map<String, Integer> ordered(Object... pairs) {
        Map<String, Integer> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put((String) pairs[i], (Integer) pairs[i + 1]);
        }
        return map;
    }

    static Map<String, Integer> checksums(Migrations migrations) {
        Map<String, Integer> map = new LinkedHashMap<>();
        for (Migrations.Script script : migrations.scripts()) {
            map.put(script.version().text(), script.checksum());
        }
        return map;
    }

    /** The history's rows, in rank order: "rank version description type script checksum installed_by success". */
    static List<String> history(DataSource dataSource) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection connection = dataSource.getConnection();
             Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("SELECT installed_rank, version, description, type, script,"
                     + " checksum, installed_by, success FROM flyway_schema_history ORDER BY installed_rank")) {
            while (result.next()) {
                rows.add(result.getInt(1) + " " + result.getString(2) + " " + result.getString(3) + " "
                        + result.getString(4) + " " + result.getString(5) + " " + result.getInt(6) + " '"
                        + result.getString(7) + "' " + result.getBoolean(8));
            }
        }
        return rows;
    }

    static void run(DataSource dataSource, String sql) throws SQLException {
        try (Connection connection = dataSource.getConnection();
             Statement statement = connection.createStatement()) {
            statement.executeUpdate(sql);
        }
    }

    private DataSource sqlite(String name) {
        return new SqliteDataSource(Database.sqliteUrl(dir.resolve(name)));
    }

    @Test
    void scriptsCarryTheChecksumsFlywayStoredForThem() {
        assertThat(checksums(Migrations.load("db/sqlite"))).containsExactlyEntriesOf(FLYWAY_SQLITE_CHECKSUMS);
        assertThat(checksums(Migrations.load("db/migration"))).containsExactlyEntriesOf(FLYWAY_POSTGRESQL_CHECKSUMS);
    }

    @Test
    void checksumIgnoresLineEndingsAndByteOrderMark() {
        int unix = Migrations.Script.checksum("CREATE TABLE a (x INT);\n-- done\n");
        assertThat(Migrations.Script.checksum("CREATE TABLE a (x INT);\r\n-- done\r\n")).isEqualTo(unix);
        assertThat(Migrations.Script.of("1", "a", "V1__a.sql",
                "\uFEFFCREATE TABLE a (x INT);\n-- done\n".getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .checksum()).isEqualTo(unix);
        assertThat(Migrations.Script.checksum("CREATE TABLE a (x INT);\n-- done!\n")).isNotEqualTo(unix);
    }

    @Test
    void versionsCompareNumerically() {
        assertThat(Migrations.Version.parse("2")).isLessThan(Migrations.Version.parse("20"));
        assertThat(Migrations.Version.parse("20")).isLessThan(Migrations.Version.parse("21"));
        assertThat(Migrations.Version.parse("1.2")).isLessThan(Migrations.Version.parse("1.10"));
        assertThat(Migrations.Version.parse("1.0")).isEqualTo(Migrations.Version.parse("1"));
        assertThat(Migrations.load("migrations-test/sqlite").scripts())
                .extracting(Migrations.Script::name)
                .containsExactly("V1__notes.sql", "V2__later.sql", "V10__later_note.sql");
    }

    @Test
    void freshDatabaseGetsEveryScriptRecordedAsFlywayRecordsThem() throws SQLException {
        DataSource dataSource = sqlite("parley.db");
        assertThat(Migrations.load("db/sqlite").apply(dataSource, false)).isEqualTo(4);
        assertThat(history(dataSource)).containsExactly(
                "1 1 schema SQL V1__schema.sql 572489296 '' true",
                "2 2 spend budgets SQL V2__spend_budgets.sql -913884109 '' true",
                "3 20 tool approvals SQL V20__tool_approvals.sql 323136673 '' true",
                "4 21 mcp credentials SQL V21__mcp_credentials.sql 980102777 '' true");
        assertThat(Migrations.load("db/sqlite").apply(dataSource, false)).isZero();
    }

    @Test
    void databaseOpensMigratedAndServes() throws SQLException {
        try (Database database = Database.open(Database.sqliteUrl(dir.resolve("parley.db")), 2)) {
            assertThat(history(database.dataSource())).hasSize(4);
            assertThat(database.sql().query("SELECT COUNT(*) FROM mcp_credentials", row -> row.getLong(1)))
                    .containsExactly(0L);
        }
    }

    @Test
    void olderDatabaseGetsOnlyTheMissingScripts() throws SQLException {
        DataSource dataSource = sqlite("parley.db");
        Migrations.load("db/sqlite").apply(dataSource, false);
        run(dataSource, "INSERT INTO users (id, email, name, created_at) VALUES ('u1', 'ada@example.com', 'Ada', CURRENT_TIMESTAMP)");
        // As a release without V20 and V21 left it.
        run(dataSource, "DROP TABLE mcp_credentials; DROP TABLE tool_approvals;"
                + " DELETE FROM flyway_schema_history WHERE version IN ('20', '21')");

        assertThat(Migrations.load("db/sqlite").apply(dataSource, false)).isEqualTo(2);

        assertThat(history(dataSource)).extracting(row -> row.split(" ")[0] + " " + row.split(" ")[1])
                .containsExactly("1 1", "2 2", "3 20", "4 21");
        try (Connection connection = dataSource.getConnection();
             Statement statement = connection.createStatement();
             ResultSet users = statement.executeQuery("SELECT name FROM users")) {
            assertThat(users.next()).isTrue();
            assertThat(users.getString(1)).isEqualTo("Ada");
        }
    }

    @Test
    void scriptsRunWholeInVersionOrder() throws SQLException {
        DataSource dataSource = sqlite("test.db");
        assertThat(Migrations.load("migrations-test/sqlite").apply(dataSource, false)).isEqualTo(3);
        try (Connection connection = dataSource.getConnection();
             Statement statement = connection.createStatement();
             ResultSet notes = statement.executeQuery("SELECT body FROM notes ORDER BY id")) {
            assertThat(notes.next()).isTrue();
            assertThat(notes.getString(1)).isEqualTo("it's; here");
            assertThat(notes.next()).isTrue();
            assertThat(notes.getString(1)).isEqualTo("a;b");
        }
        run(dataSource, "INSERT INTO later (id, note) VALUES (1, 'added by V10')");
    }

    @Test
    void failedScriptLeavesNothingOfItselfAndKeepsTheOnesBefore() throws SQLException {
        DataSource dataSource = sqlite("test.db");
        Migrations migrations = Migrations.load("migrations-test/sqlite-failing");

        assertThatThrownBy(() -> migrations.apply(dataSource, false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("V2__half.sql failed")
                .hasMessageContaining("no such table: missing");

        assertThat(history(dataSource)).extracting(row -> row.split(" ")[4]).containsExactly("V1__notes.sql");
        assertThatThrownBy(() -> run(dataSource, "SELECT * FROM half")).hasMessageContaining("no such table");
    }

    @Test
    void changedScriptRefusesToStart() throws SQLException {
        Path file = dir.resolve("parley.db");
        DataSource dataSource = sqlite("parley.db");
        Migrations.load("db/sqlite").apply(dataSource, false);
        run(dataSource, "UPDATE flyway_schema_history SET checksum = 12345 WHERE version = '20'");

        assertThatThrownBy(() -> Database.open(Database.sqliteUrl(file), 2))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("V20__tool_approvals.sql has checksum 323136673 but was applied with checksum"
                        + " 12345");
    }

    @Test
    void failedRowRefusesToStart() throws SQLException {
        DataSource dataSource = sqlite("parley.db");
        Migrations.load("db/sqlite").apply(dataSource, false);
        run(dataSource, "UPDATE flyway_schema_history SET success = 0 WHERE version = '21'");

        assertThatThrownBy(() -> Migrations.load("db/sqlite").apply(dataSource, false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("V21__mcp_credentials.sql (version 21) failed");
    }

    @Test
    void scriptMissingBelowTheNewestAppliedRefusesToStart() throws SQLException {
        DataSource dataSource = sqlite("parley.db");
        Migrations.load("db/sqlite").apply(dataSource, false);
        run(dataSource, "DELETE FROM flyway_schema_history WHERE version = '2'");

        assertThatThrownBy(() -> Migrations.load("db/sqlite").apply(dataSource, false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("V2__spend_budgets.sql was never applied, but the newer version 21 was");
    }

    @Test
    void appliedVersionWithoutScriptRefusesToStartUnlessNewerThanEveryScript() throws SQLException {
        DataSource dataSource = sqlite("parley.db");
        Migrations.load("db/sqlite").apply(dataSource, false);
        run(dataSource, "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,"
                + " checksum, installed_by, execution_time, success) VALUES (5, '30', 'later', 'SQL', 'V30__later.sql',"
                + " 1, '', 0, 1)");
        assertThat(Migrations.load("db/sqlite").apply(dataSource, false)).isZero();

        run(dataSource, "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script,"
                + " checksum, installed_by, execution_time, success) VALUES (6, '3', 'gone', 'SQL', 'V3__gone.sql',"
                + " 1, '', 0, 1)");
        assertThatThrownBy(() -> Migrations.load("db/sqlite").apply(dataSource, false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("version 3 (V3__gone.sql) was applied but this server has no such script");
    }
}
