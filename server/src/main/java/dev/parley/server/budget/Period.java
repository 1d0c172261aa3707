package dev.parley.server.budget;

import dev.parley.server.config.Config;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.TemporalAdjusters;

/** One budget period: UTC calendar days from {@code start} (inclusive) to {@code end} (exclusive). */
public record Period(LocalDate start, LocalDate end) {
    /** The period of the given kind that contains {@code at}; weeks start on Monday (ISO 8601). */
    public static Period containing(Config.BudgetPeriod kind, Instant at) {
        LocalDate day = LocalDate.ofInstant(at, ZoneOffset.UTC);
        return switch (kind) {
            case DAY -> new Period(day, day.plusDays(1));
            case WEEK -> {
                LocalDate monday = day.with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
                yield new Period(monday, monday.plusWeeks(1));
            }
            case MONTH -> {
                LocalDate first = day.withDayOfMonth(1);
                yield new Period(first, first.plusMonths(1));
            }
        };
    }

    /** The key of the period's ledger row. */
    String key() {
        return start.toString();
    }

    public Instant startInstant() {
        return start.atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    public Instant endInstant() {
        return end.atStartOfDay(ZoneOffset.UTC).toInstant();
    }
}
