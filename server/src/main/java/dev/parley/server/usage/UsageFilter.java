package dev.parley.server.usage;

import java.time.LocalDate;

/** Which of a user's usage records a query looks at; null fields do not filter. Days are UTC and inclusive. */
public record UsageFilter(String provider, String model, String feature, LocalDate from, LocalDate to) {
    public static final UsageFilter ALL = new UsageFilter(null, null, null, null, null);

    public static UsageFilter feature(String feature) {
        return new UsageFilter(null, null, feature, null, null);
    }
}
