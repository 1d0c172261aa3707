package dev.parley.server.observe;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.function.DoubleSupplier;

/**
 * A small metrics registry rendered in the Prometheus text exposition format: counters, gauges read on scrape, and
 * fixed-bucket histograms. Thread-safe; series are created on first use and never removed.
 */
public final class Metrics {
    private static final double[] LATENCY_BUCKETS_S =
            {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

    private final Map<String, Family> families = new ConcurrentHashMap<>();

    private sealed interface Family permits CounterFamily, GaugeFamily, HistogramFamily {
        String help();
    }

    private record CounterFamily(String help, Map<Labels, AtomicLong> series) implements Family {
    }

    private record GaugeFamily(String help, Map<Labels, DoubleSupplier> series) implements Family {
    }

    private record HistogramFamily(String help, Map<Labels, Histogram> series) implements Family {
    }

    private static final class Histogram {
        final AtomicLongArray buckets = new AtomicLongArray(LATENCY_BUCKETS_S.length);
        final AtomicLong count = new AtomicLong();
        final DoubleAdder sum = new DoubleAdder();

        void observe(double value) {
            for (int i = 0; i < LATENCY_BUCKETS_S.length; i++) {
                if (value <= LATENCY_BUCKETS_S[i]) {
                    buckets.incrementAndGet(i);
                }
            }
            count.incrementAndGet();
            sum.add(value);
        }
    }

    /** Adds one to a counter series; labels alternate name and value. */
    public void increment(String name, String help, String... labels) {
        add(name, help, 1, labels);
    }

    public void add(String name, String help, long amount, String... labels) {
        CounterFamily family = (CounterFamily) families.computeIfAbsent(name,
                n -> new CounterFamily(help, new ConcurrentHashMap<>()));
        family.series().computeIfAbsent(labels(labels), l -> new AtomicLong()).addAndGet(amount);
    }

    /** Registers a gauge whose value is read at each scrape. */
    public void gauge(String name, String help, DoubleSupplier value, String... labels) {
        GaugeFamily family = (GaugeFamily) families.computeIfAbsent(name,
                n -> new GaugeFamily(help, new ConcurrentHashMap<>()));
        family.series().put(labels(labels), value);
    }

    /** Records a duration in seconds into a latency histogram. */
    public void observeSeconds(String name, String help, double seconds, String... labels) {
        HistogramFamily family = (HistogramFamily) families.computeIfAbsent(name,
                n -> new HistogramFamily(help, new ConcurrentHashMap<>()));
        family.series().computeIfAbsent(labels(labels), l -> new Histogram()).observe(seconds);
    }

    /** The current value of a counter series, for tests and health reporting. */
    public long counter(String name, String... labels) {
        Family family = families.get(name);
        if (family instanceof CounterFamily counters) {
            AtomicLong value = counters.series().get(labels(labels));
            return value == null ? 0 : value.get();
        }
        return 0;
    }

    public String scrape() {
        StringBuilder out = new StringBuilder(4096);
        for (Map.Entry<String, Family> entry : new TreeMap<>(families).entrySet()) {
            String name = entry.getKey();
            Family family = entry.getValue();
            out.append("# HELP ").append(name).append(' ').append(family.help()).append('\n');
            switch (family) {
                case CounterFamily counters -> {
                    out.append("# TYPE ").append(name).append(" counter\n");
                    rendered(counters.series()).forEach((labels, value) ->
                            out.append(name).append(labels).append(' ').append(value.get()).append('\n'));
                }
                case GaugeFamily gauges -> {
                    out.append("# TYPE ").append(name).append(" gauge\n");
                    rendered(gauges.series()).forEach((labels, value) ->
                            out.append(name).append(labels).append(' ').append(number(value.getAsDouble())).append('\n'));
                }
                case HistogramFamily histograms -> {
                    out.append("# TYPE ").append(name).append(" histogram\n");
                    rendered(histograms.series()).forEach((labels, histogram) -> {
                        for (int i = 0; i < LATENCY_BUCKETS_S.length; i++) {
                            out.append(name).append("_bucket").append(withLe(labels, number(LATENCY_BUCKETS_S[i])))
                                    .append(' ').append(histogram.buckets.get(i)).append('\n');
                        }
                        out.append(name).append("_bucket").append(withLe(labels, "+Inf")).append(' ')
                                .append(histogram.count.get()).append('\n');
                        out.append(name).append("_sum").append(labels).append(' ').append(number(histogram.sum.sum())).append('\n');
                        out.append(name).append("_count").append(labels).append(' ').append(histogram.count.get()).append('\n');
                    });
                }
            }
        }
        return out.toString();
    }

    private static String withLe(String labels, String le) {
        String bucket = "le=\"" + le + "\"";
        return labels.isEmpty() ? "{" + bucket + "}" : labels.substring(0, labels.length() - 1) + "," + bucket + "}";
    }

    private static Labels labels(String... pairs) {
        if (pairs.length % 2 != 0) {
            throw new IllegalArgumentException("labels must come in name/value pairs");
        }
        return new Labels(pairs);
    }

    /** A series' label names and values, alternating, as given: rendered only when scraped, not on every update. */
    private record Labels(String[] pairs) {
        Labels {
            pairs = pairs.clone(); // a key must not change with the caller's array
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Labels labels && Arrays.equals(pairs, labels.pairs);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(pairs);
        }

        @Override
        public String toString() {
            if (pairs.length == 0) {
                return "";
            }
            StringJoiner parts = new StringJoiner(",", "{", "}");
            for (int i = 0; i < pairs.length; i += 2) {
                String value = pairs[i + 1] == null ? "" : pairs[i + 1];
                parts.add(pairs[i] + "=\"" + value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"");
            }
            return parts.toString();
        }
    }

    private static <V> Map<String, V> rendered(Map<Labels, V> series) {
        Map<String, V> sorted = new TreeMap<>();
        series.forEach((labels, value) -> sorted.put(labels.toString(), value));
        return sorted;
    }

    private static String number(double value) {
        if (value == Math.rint(value) && !Double.isInfinite(value)) {
            return Long.toString((long) value);
        }
        return String.format(Locale.ROOT, "%.6f", value);
    }
}
