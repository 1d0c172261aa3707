package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteConnection;

/** The pools' connections to the embedded database have the settings the URL names, not the driver's defaults. */
class SqliteDataSourceTest {
    @TempDir
    Path dir;

    private static String pragma(Connection connection, String name) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet result = statement.executeQuery("PRAGMA " + name)) {
            result.next();
            return result.getString(1);
        }
    }

    @Test
    void pooledConnectionsTakeTheUrlsSettings() throws SQLException {
        try (Database database = Database.open(Database.sqliteUrl(dir.resolve("parley.db")), 2);
             Connection pooled = database.dataSource().getConnection()) {
            SQLiteConnection raw = pooled.unwrap(SQLiteConnection.class);
            assertThat(raw.getConnectionConfig().getTransactionMode()).isEqualTo(SQLiteConfig.TransactionMode.IMMEDIATE);
            assertThat(raw.getConnectionConfig().isGetGeneratedKeys()).isFalse();
            assertThat(pragma(pooled, "journal_mode")).isEqualTo("wal");
            assertThat(pragma(pooled, "synchronous")).isEqualTo("1"); // NORMAL
            assertThat(pragma(pooled, "foreign_keys")).isEqualTo("1");
        }
    }
}
