package dev.parley.server.agent;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * How numbers read in answers: dollars with cents ({@code $1,234.56}), or four decimals below one dollar
 * ({@code $0.0123}); token counts with thousands separators; latencies in whole milliseconds; percentages with one
 * decimal.
 */
final class Figures {
    private Figures() {
    }

    static String usd(BigDecimal amount) {
        BigDecimal abs = amount.abs();
        String sign = amount.signum() < 0 ? "-" : "";
        if (abs.compareTo(BigDecimal.ONE) >= 0 || abs.signum() == 0) {
            return sign + String.format(Locale.ROOT, "$%,.2f", abs.setScale(2, RoundingMode.HALF_UP));
        }
        return sign + String.format(Locale.ROOT, "$%.4f", abs.setScale(4, RoundingMode.HALF_UP));
    }

    /** A per-million-token price as the catalog writes it: {@code $2.50/M}. */
    static String perMillion(BigDecimal price) {
        return "$" + price.stripTrailingZeros().toPlainString() + "/M";
    }

    static String count(long value) {
        return String.format(Locale.ROOT, "%,d", value);
    }

    static String ms(Long value) {
        return value == null ? "n/a" : String.format(Locale.ROOT, "%,d ms", value);
    }

    static String pct(BigDecimal part, BigDecimal whole) {
        if (whole.signum() == 0) {
            return "0.0%";
        }
        return part.multiply(BigDecimal.valueOf(100)).divide(whole, 1, RoundingMode.HALF_UP).toPlainString() + "%";
    }
}
