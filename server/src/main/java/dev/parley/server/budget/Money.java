package dev.parley.server.budget;

import java.math.BigDecimal;
import java.math.RoundingMode;

/** Amounts of money in the ledger's unit, whole micro-dollars (10^-6 USD), and back. */
public final class Money {
    public static final int SCALE = 6;

    private Money() {
    }

    /** Whole micro-dollars of an amount, rounded up: what a reservation must cover. */
    public static long microsCeiling(BigDecimal usd) {
        return usd.setScale(SCALE, RoundingMode.CEILING).unscaledValue().longValueExact();
    }

    /** Whole micro-dollars of an amount, rounded half up, as run costs are. */
    public static long micros(BigDecimal usd) {
        return usd.setScale(SCALE, RoundingMode.HALF_UP).unscaledValue().longValueExact();
    }

    public static BigDecimal usd(long micros) {
        return BigDecimal.valueOf(micros, SCALE);
    }
}
