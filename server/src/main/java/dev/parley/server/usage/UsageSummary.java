package dev.parley.server.usage;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;

/**
 * Aggregated usage: the totals over the filtered records and one group per value of the grouping dimension, costliest
 * first (days in calendar order). Latency percentiles are nearest-rank ({@code PERCENTILE_DISC}) over the records that
 * have a latency, and null when none has.
 */
public record UsageSummary(Grouping grouping, Totals totals, List<Group> groups) {

    public record Totals(long requests, long inputTokens, long outputTokens, BigDecimal costUsd, Long p50LatencyMs,
                         Long p95LatencyMs, String firstDay, String lastDay) {
        public boolean empty() {
            return requests == 0;
        }
    }

    /** {@code provider} is set for model groups (a model name is only unique together with its provider). */
    public record Group(String key, String provider, long requests, long inputTokens, long outputTokens,
                        BigDecimal costUsd, Long p50LatencyMs, Long p95LatencyMs) {
    }

    /** The wire form: snake_case, costs in USD rounded to 6 decimals, {@code share_of_cost} per group in percent. */
    public ObjectNode toJson() {
        ObjectNode root = Json.object();
        root.put("group_by", grouping.wireName());
        ObjectNode t = root.putObject("totals");
        t.put("requests", totals.requests());
        t.put("input_tokens", totals.inputTokens());
        t.put("output_tokens", totals.outputTokens());
        t.put("cost_usd", usd(totals.costUsd()));
        putLatency(t, totals.p50LatencyMs(), totals.p95LatencyMs());
        t.put("first_day", totals.firstDay());
        t.put("last_day", totals.lastDay());
        ArrayNode list = root.putArray("groups");
        for (Group group : groups) {
            ObjectNode g = list.addObject();
            g.put(grouping.wireName(), group.key());
            if (group.provider() != null) {
                g.put("provider", group.provider());
            }
            g.put("requests", group.requests());
            g.put("input_tokens", group.inputTokens());
            g.put("output_tokens", group.outputTokens());
            g.put("cost_usd", usd(group.costUsd()));
            g.put("share_of_cost_pct", totals.costUsd().signum() == 0 ? 0.0
                    : group.costUsd().multiply(BigDecimal.valueOf(100))
                            .divide(totals.costUsd(), 1, RoundingMode.HALF_UP).doubleValue());
            putLatency(g, group.p50LatencyMs(), group.p95LatencyMs());
        }
        return root;
    }

    private static void putLatency(ObjectNode node, Long p50, Long p95) {
        if (p50 == null) {
            node.putNull("p50_latency_ms");
            node.putNull("p95_latency_ms");
        } else {
            node.put("p50_latency_ms", p50);
            node.put("p95_latency_ms", p95);
        }
    }

    static double usd(BigDecimal amount) {
        return amount.setScale(6, RoundingMode.HALF_UP).doubleValue();
    }
}
