package dev.parley.server.usage;

import java.math.BigDecimal;
import java.time.Instant;

/**
 * One validated LLM request of a user: when, which provider and model, which feature of the user's product, how many
 * tokens, how long it took ({@code latencyMs} is null when unknown) and what it cost.
 */
public record UsageRow(Instant occurredAt, String provider, String model, String feature, long inputTokens,
                       long outputTokens, Integer latencyMs, BigDecimal costUsd) {
}
