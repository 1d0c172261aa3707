package dev.parley.server.usage;

import dev.parley.server.db.Sql;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.UUID;

/**
 * The {@code usage_events} table: users' LLM usage records and the aggregates the spend optimizer reads. Every query
 * is scoped to one user. Plain SQL that embedded SQLite and PostgreSQL both accept.
 */
public final class UsageStore {
    /** Where a record came from: the user's own upload or the generated sample. */
    public enum Source {
        UPLOAD, SAMPLE;

        String column() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final int BATCH = 500;
    private static final String INSERT = "INSERT INTO usage_events (id, user_id, occurred_at, occurred_day, provider, "
            + "model, feature, input_tokens, output_tokens, latency_ms, cost_usd, source, created_at) "
            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

    private final Sql sql;
    private final Clock clock;

    public UsageStore(Sql sql, Clock clock) {
        this.sql = sql;
        this.clock = clock;
    }

    /** Adds records in one transaction; returns how many. */
    public int add(String userId, List<UsageRow> rows, Source source) {
        return sql.inTransaction(connection -> insert(connection, userId, rows, source));
    }

    /** Replaces the user's sample records (never their uploads) with {@code rows}, atomically; returns how many were removed. */
    public int replaceSample(String userId, List<UsageRow> rows) {
        return sql.inTransaction(connection -> {
            int removed = Sql.update(connection, "DELETE FROM usage_events WHERE user_id = ? AND source = ?",
                    userId, Source.SAMPLE.column());
            insert(connection, userId, rows, Source.SAMPLE);
            return removed;
        });
    }

    /** Removes every record of the user; returns how many. */
    public int deleteAll(String userId) {
        return sql.update("DELETE FROM usage_events WHERE user_id = ?", userId);
    }

    public long count(String userId) {
        return sql.queryOne("SELECT COUNT(*) FROM usage_events WHERE user_id = ?", row -> row.getLong(1), userId)
                .orElse(0L);
    }

    private int insert(Connection connection, String userId, List<UsageRow> rows, Source source) throws SQLException {
        Timestamp now = Timestamp.from(clock.instant());
        try (PreparedStatement statement = connection.prepareStatement(INSERT)) {
            int pending = 0;
            for (UsageRow row : rows) {
                statement.setString(1, UUID.randomUUID().toString());
                statement.setString(2, userId);
                statement.setTimestamp(3, Timestamp.from(row.occurredAt()));
                statement.setObject(4, day(row.occurredAt()));
                statement.setString(5, row.provider());
                statement.setString(6, row.model());
                statement.setString(7, row.feature());
                statement.setLong(8, row.inputTokens());
                statement.setLong(9, row.outputTokens());
                if (row.latencyMs() == null) {
                    statement.setNull(10, Types.INTEGER);
                } else {
                    statement.setInt(10, row.latencyMs());
                }
                statement.setObject(11, sql.money(row.costUsd()));
                statement.setString(12, source.column());
                statement.setTimestamp(13, now);
                statement.addBatch();
                if (++pending == BATCH) {
                    statement.executeBatch();
                    pending = 0;
                }
            }
            if (pending > 0) {
                statement.executeBatch();
            }
        }
        return rows.size();
    }

    static LocalDate day(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC).toLocalDate();
    }

    /**
     * Totals and per-group aggregates of the user's records that match the filter. Latency percentiles are
     * nearest-rank (the smallest latency with at least p of the latencies at or below it, as PostgreSQL's
     * {@code PERCENTILE_DISC}); they are worked out with {@code CUME_DIST}, which both databases compute alike.
     */
    public UsageSummary summarize(String userId, UsageFilter filter, Grouping grouping) {
        List<Object> params = new ArrayList<>();
        String where = where(userId, filter, params);
        String aggregates = "COUNT(*) AS requests, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, "
                + "SUM(cost_usd) AS cost_usd";
        UsageSummary.Totals counted = sql.queryOne(
                "SELECT " + aggregates + ", MIN(occurred_day) AS first_day, MAX(occurred_day) AS last_day "
                        + "FROM usage_events " + where,
                row -> new UsageSummary.Totals(row.getLong("requests"), row.getLong("input_tokens"),
                        row.getLong("output_tokens"), money(row), null, null,
                        dayText(row, "first_day"), dayText(row, "last_day")),
                params.toArray()).orElseThrow();
        if (counted.empty()) {
            return new UsageSummary(grouping, counted, List.of()); // nothing to rank or group: one query, not four
        }
        Percentiles overall = percentiles(where, params, null).getOrDefault("", Percentiles.NONE);
        UsageSummary.Totals totals = new UsageSummary.Totals(counted.requests(), counted.inputTokens(),
                counted.outputTokens(), counted.costUsd(), overall.p50(), overall.p95(), counted.firstDay(),
                counted.lastDay());
        String key = key(grouping);
        Map<String, Percentiles> latency = percentiles(where, params, grouping);
        String order = grouping == Grouping.DAY ? "occurred_day" : "cost_usd DESC, " + key;
        List<UsageSummary.Group> groups = sql.query(
                "SELECT " + key + ", " + aggregates + " FROM usage_events " + where + " GROUP BY " + key
                        + " ORDER BY " + order,
                row -> {
                    Percentiles p = latency.getOrDefault(compositeKey(row, grouping), Percentiles.NONE);
                    return new UsageSummary.Group(groupKey(row, grouping),
                            grouping == Grouping.MODEL ? row.getString("provider") : null,
                            row.getLong("requests"), row.getLong("input_tokens"), row.getLong("output_tokens"),
                            money(row), p.p50(), p.p95());
                },
                params.toArray());
        return new UsageSummary(grouping, totals, groups);
    }

    private record Percentiles(Long p50, Long p95) {
        static final Percentiles NONE = new Percentiles(null, null);
    }

    /** p50 and p95 latency per group (or overall, under the key "", when {@code grouping} is null). */
    private Map<String, Percentiles> percentiles(String where, List<Object> params, Grouping grouping) {
        String key = grouping == null ? null : key(grouping);
        String partition = key == null ? "" : "PARTITION BY " + key + " ";
        String select = key == null ? "" : key + ", ";
        String statement = "SELECT " + select
                + "MIN(CASE WHEN cd >= 0.5 THEN latency_ms END) AS p50, "
                + "MIN(CASE WHEN cd >= 0.95 THEN latency_ms END) AS p95 "
                + "FROM (SELECT " + select + "latency_ms, CUME_DIST() OVER (" + partition + "ORDER BY latency_ms) AS cd "
                + "FROM usage_events " + where + " AND latency_ms IS NOT NULL) ranked"
                + (key == null ? "" : " GROUP BY " + key);
        Map<String, Percentiles> result = new HashMap<>();
        sql.query(statement, row -> {
            Long p50 = longOrNull(row, "p50");
            if (p50 != null) {
                result.put(grouping == null ? "" : compositeKey(row, grouping), new Percentiles(p50, longOrNull(row, "p95")));
            }
            return null;
        }, params.toArray());
        return result;
    }

    private static String key(Grouping grouping) {
        return switch (grouping) {
            case MODEL -> "provider, model";
            case PROVIDER -> "provider";
            case FEATURE -> "feature";
            case DAY -> "occurred_day";
        };
    }

    private static String compositeKey(ResultSet row, Grouping grouping) throws SQLException {
        return grouping == Grouping.MODEL ? row.getString("provider") + "\u0000" + row.getString("model")
                : groupKey(row, grouping);
    }

    private static String where(String userId, UsageFilter filter, List<Object> params) {
        StringBuilder where = new StringBuilder("WHERE user_id = ?");
        params.add(userId);
        andWhereSet(where, params, "provider = ?", filter.provider());
        andWhereSet(where, params, "model = ?", filter.model());
        andWhereSet(where, params, "feature = ?", filter.feature());
        andWhereSet(where, params, "occurred_day >= ?", filter.from());
        andWhereSet(where, params, "occurred_day <= ?", filter.to());
        return where.toString();
    }

    /** Adds {@code condition} with its one parameter, unless the filter leaves it open ({@code value} null). */
    private static void andWhereSet(StringBuilder where, List<Object> params, String condition, Object value) {
        if (value != null) {
            where.append(" AND ").append(condition);
            params.add(value);
        }
    }

    private static String groupKey(ResultSet row, Grouping grouping) throws SQLException {
        return switch (grouping) {
            case MODEL -> row.getString("model");
            case PROVIDER -> row.getString("provider");
            case FEATURE -> row.getString("feature");
            case DAY -> dayText(row, "occurred_day");
        };
    }

    private BigDecimal money(ResultSet row) throws SQLException {
        return sql.money(row, "cost_usd");
    }

    private static Long longOrNull(ResultSet row, String column) throws SQLException {
        Object value = row.getObject(column);
        return value instanceof Number number ? number.longValue() : null;
    }

    private static String dayText(ResultSet row, String column) throws SQLException {
        LocalDate day = row.getObject(column, LocalDate.class);
        return day == null ? null : day.toString();
    }
}
