package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A point in time bound by {@link Sql#setInstant} is stored on SQLite exactly as the driver's own setTimestamp stores it. */
class InstantBindingTest {
    @TempDir
    Path dir;
    private Database database;

    @BeforeEach
    void open() {
        database = Database.open(Database.sqliteUrl(dir.resolve("parley.db")), 1);
        database.sql().update("CREATE TABLE times (ours TIMESTAMP NOT NULL, drivers TIMESTAMP NOT NULL)");
    }

    @AfterEach
    void close() {
        database.close();
    }

    @Test
    void storesWhatTheDriverStoresAndReadsBackTheSameInstant() {
        Instant at = Instant.parse("2026-12-07T06:58:01.123456789Z");
        database.sql().withConnection(connection -> {
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO times VALUES (?, ?)")) {
                Sql.setInstant(insert, 1, at);
                insert.setTimestamp(2, Timestamp.from(at));
                return insert.executeUpdate();
            }
        });
        database.sql().withConnection(connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT typeof(ours), typeof(drivers), ours = drivers, ours, drivers FROM times");
                 ResultSet row = select.executeQuery()) {
                assertThat(row.next()).isTrue();
                assertThat(row.getString(1)).isEqualTo("integer");
                assertThat(row.getString(2)).isEqualTo("integer");
                assertThat(row.getBoolean(3)).isTrue();
                assertThat(Sql.instant(row, "ours")).isEqualTo(at.truncatedTo(ChronoUnit.MILLIS));
                assertThat(Sql.instant(row, "drivers")).isEqualTo(Sql.instant(row, "ours"));
            }
            return null;
        });
    }
}
