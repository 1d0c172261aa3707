package dev.parley.cli.validate;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Order statistics of a sample of durations, in milliseconds to a tenth, by the nearest-rank method: the p-th
 * percentile is the smallest value with at least p % of the sample at or below it (so with 5 values p95 is the
 * largest). Every figure is one of the measured values, never an interpolation.
 */
record Percentiles(int count, double min, double p50, double p95, double max) {
    static Percentiles ofNanos(List<Long> nanos) {
        List<Double> millis = new ArrayList<>();
        for (long value : nanos) {
            millis.add(Math.round(value / 100_000.0) / 10.0);
        }
        return ofMillis(millis);
    }

    static Percentiles ofMillis(List<Double> values) {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("no values");
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return new Percentiles(sorted.size(), sorted.getFirst(), rank(sorted, 50), rank(sorted, 95), sorted.getLast());
    }

    private static double rank(List<Double> sorted, int percentile) {
        int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }
}
