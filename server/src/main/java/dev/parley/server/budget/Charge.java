package dev.parley.server.budget;

import java.math.BigDecimal;

/**
 * What committing a call's cost left: the call's cost, the user's spent and limit in the hold's period, what remains
 * (limit − spent − held, never below 0), and whether this commit crossed the warning share first in the period.
 */
public record Charge(BigDecimal callCostUsd, BigDecimal spentUsd, BigDecimal limitUsd, BigDecimal remainingUsd,
                     boolean warn) {
}
