package dev.parley.server.budget;

import java.math.BigDecimal;
import java.util.Optional;

/** A user's budget in the current period, as GET /api/budget shows it; {@code limitUsd} empty when there is none. */
public record BudgetStatus(Optional<BigDecimal> limitUsd, BigDecimal spentUsd, BigDecimal reservedUsd,
                           Optional<BigDecimal> remainingUsd, Period period) {
}
