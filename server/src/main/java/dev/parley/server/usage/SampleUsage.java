package dev.parley.server.usage;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * A realistic month of LLM usage for a small product team, generated from a fixed seed so that the same end day
 * always gives the same records: six features on six models of three providers, weekday/weekend traffic, business
 * hour peaks, log-normal token counts and latencies that grow with output length. Costs come from the price catalog,
 * at the price in force on each record's day.
 */
public final class SampleUsage {
    public static final long SEED = 20_261_128L;
    public static final int DAYS = 30;

    private final PriceCatalog catalog;

    public SampleUsage(PriceCatalog catalog) {
        this.catalog = catalog;
    }

    /**
     * A model's speed: time to first token and output tokens per second. Figures are typical of public latency
     * benchmarks for these model sizes, not measurements of any provider.
     */
    private record Speed(int firstTokenMs, int tokensPerSecond) {
    }

    private record Mix(String provider, String model, double share, Speed speed) {
    }

    private record Feature(String name, int weekdayRequests, double weekendFactor, int meanInput, int meanOutput,
                           double hourSpread, List<Mix> models) {
    }

    private static final List<Feature> FEATURES = List.of(
            new Feature("support_chat", 70, 0.6, 2_600, 320, 1.0, List.of(
                    new Mix("openai", "gpt-4o", 0.7, new Speed(450, 85)),
                    new Mix("openai", "gpt-4o-mini", 0.3, new Speed(350, 120)))),
            new Feature("summarization", 40, 0.3, 6_500, 450, 1.0, List.of(
                    new Mix("anthropic", "claude-sonnet-4-5", 1.0, new Speed(700, 65)))),
            new Feature("classification", 110, 0.5, 650, 18, 1.0, List.of(
                    new Mix("openai", "gpt-4o-mini", 1.0, new Speed(300, 120)))),
            new Feature("code_review", 9, 0.1, 14_000, 1_300, 1.0, List.of(
                    new Mix("anthropic", "claude-opus-4-1", 1.0, new Speed(1_500, 38)))),
            new Feature("search_answers", 55, 0.7, 4_200, 280, 1.0, List.of(
                    new Mix("google", "gemini-2.5-flash", 1.0, new Speed(380, 180)))),
            new Feature("report_generation", 5, 1.0, 22_000, 2_600, 0.0, List.of(
                    new Mix("google", "gemini-2.5-pro", 1.0, new Speed(1_200, 75)))));

    /** The records of the {@link #DAYS} days that end with {@code lastDay}, oldest first. */
    public List<UsageRow> generate(LocalDate lastDay) {
        Random random = new Random(SEED);
        List<UsageRow> rows = new ArrayList<>();
        LocalDate first = lastDay.minusDays(DAYS - 1L);
        for (int d = 0; d < DAYS; d++) {
            LocalDate day = first.plusDays(d);
            boolean weekend = day.getDayOfWeek() == DayOfWeek.SATURDAY || day.getDayOfWeek() == DayOfWeek.SUNDAY;
            // Traffic grows about 1% a day over the month, as a product in use does.
            double growth = 1.0 + 0.01 * d;
            for (Feature feature : FEATURES) {
                double expected = feature.weekdayRequests() * growth * (weekend ? feature.weekendFactor() : 1.0);
                int requests = Math.max(0, (int) Math.round(expected * (0.85 + 0.3 * random.nextDouble())));
                for (int r = 0; r < requests; r++) {
                    rows.add(request(random, day, feature));
                }
            }
        }
        rows.sort(Comparator.comparing(UsageRow::occurredAt));
        return rows;
    }

    private UsageRow request(Random random, LocalDate day, Feature feature) {
        Mix mix = pick(random, feature.models());
        long second;
        if (feature.hourSpread() == 0.0) {
            // Nightly batch work: between 02:00 and 03:00 UTC.
            second = 2 * 3600 + random.nextInt(3600);
        } else {
            // Business hours in the Americas and Europe: a peak around 15:00 UTC.
            double hour = 15 + random.nextGaussian() * 4.5;
            second = (long) (Math.floorMod((long) (hour * 3600), 86_400L));
        }
        Instant at = day.atStartOfDay(ZoneOffset.UTC).toInstant().plusSeconds(second).plusMillis(random.nextInt(1000));
        long input = logNormal(random, feature.meanInput(), 0.35, 40);
        long output = logNormal(random, feature.meanOutput(), 0.45, 1);
        double generation = 1000.0 * output / mix.speed().tokensPerSecond();
        double prefill = input / 20.0;
        double jitter = Math.exp(random.nextGaussian() * 0.22);
        // About 2% of requests hit a slow path (retries, queueing at the provider).
        double tail = random.nextDouble() < 0.02 ? 2.5 + 2 * random.nextDouble() : 1.0;
        int latency = (int) Math.round((mix.speed().firstTokenMs() + prefill + generation) * jitter * tail);
        BigDecimal cost = catalog.cost(mix.provider(), mix.model(), day, input, output)
                .orElseThrow(() -> new IllegalStateException("the price catalog lacks " + mix.model()))
                .setScale(8, RoundingMode.HALF_UP);
        return new UsageRow(at, mix.provider(), mix.model(), feature.name(), input, output, latency, cost);
    }

    private static Mix pick(Random random, List<Mix> models) {
        double roll = random.nextDouble();
        double sum = 0;
        for (Mix mix : models) {
            sum += mix.share();
            if (roll < sum) {
                return mix;
            }
        }
        return models.getLast();
    }

    private static long logNormal(Random random, double mean, double sigma, long min) {
        double mu = Math.log(mean) - sigma * sigma / 2;
        return Math.max(min, Math.round(Math.exp(mu + sigma * random.nextGaussian())));
    }
}
