package dev.parley.server.agent;

import java.math.BigDecimal;

/** Tokens and cost of model calls; the offline agent uses no model and reports zero. */
public record Usage(long inputTokens, long outputTokens, BigDecimal costUsd) {
    public static final Usage ZERO = new Usage(0, 0, BigDecimal.ZERO);

    public Usage plus(Usage other) {
        return new Usage(inputTokens + other.inputTokens, outputTokens + other.outputTokens, costUsd.add(other.costUsd));
    }
}
