package dev.parley.server.budget;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.Map;

/**
 * A reservation that the user's budget cannot cover: error {@code budget_exceeded}, with {@code remaining_usd} and
 * {@code resets_at} (when the period ends) inside the error.
 */
public final class BudgetExceededException extends ProtocolException {
    private final BigDecimal remainingUsd;

    BudgetExceededException(BigDecimal remainingUsd, Instant resetsAt) {
        super(ErrorCode.BUDGET_EXCEEDED, "Your spend budget for this period has $" + remainingUsd.toPlainString()
                        + " left, not enough for this request; it resets at " + resetsAt + ".",
                Map.of("remaining_usd", remainingUsd, "resets_at", resetsAt.toString()));
        this.remainingUsd = remainingUsd;
    }

    public BigDecimal remainingUsd() {
        return remainingUsd;
    }
}
