package dev.parley.server.usage;

import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.testing.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Databases and users for usage and agent tests: the product's embedded SQLite database in a fresh data directory, or a
 * fresh PostgreSQL schema, and plain-SQL reads of a user's records so that tests compute expected figures on their
 * own rather than through the code under test.
 */
public final class UsageTestData {
    private UsageTestData() {
    }

    /** One stored usage record as plain SQL reads it. */
    public record StoredRow(String provider, String model, String feature, long inputTokens, long outputTokens,
                            Integer latencyMs, BigDecimal costUsd, String day) {
    }

    public static Database embedded() {
        try {
            return Database.open(new Config.Storage(Files.createTempDirectory("parley-usage"), Optional.empty(), 4,
                    Optional.empty()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Database postgres() {
        return Database.open(TestDatabases.freshPostgresSchema(), 4);
    }

    public static String newUser(Database database) {
        String id = UUID.randomUUID().toString();
        database.sql().update("INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                id, id + "@example.com", "Test user", null, Instant.now());
        return id;
    }

    public static List<StoredRow> rows(Database database, String userId) {
        return database.sql().query("SELECT provider, model, feature, input_tokens, output_tokens, latency_ms, cost_usd, "
                        + "occurred_day FROM usage_events WHERE user_id = ?",
                row -> new StoredRow(row.getString(1), row.getString(2), row.getString(3), row.getLong(4),
                        row.getLong(5), (Integer) row.getObject(6), database.sql().money(row, "cost_usd"), row.getString(8)),
                userId);
    }

    /** The nearest-rank percentile: the smallest value with at least {@code p} of the values at or below it. */
    public static long percentile(List<Integer> values, double p) {
        List<Integer> sorted = values.stream().sorted().toList();
        int rank = (int) Math.ceil(p * sorted.size());
        return sorted.get(Math.max(0, rank - 1));
    }
}
