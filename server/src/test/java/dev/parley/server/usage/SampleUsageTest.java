package dev.parley.server.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class SampleUsageTest {
    private final PriceCatalog catalog = PriceCatalog.bundled();
    private final SampleUsage sample = new SampleUsage(catalog);

    @Test
    void theSameDayGivesTheSameMonth() {
        LocalDate last = LocalDate.of(2026, 11, 27);
        assertThat(sample.generate(last)).isEqualTo(sample.generate(last));
    }

    @Test
    void aMonthOfSeveralProvidersModelsAndFeatures() {
        LocalDate last = LocalDate.of(2026, 11, 27);
        List<UsageRow> rows = sample.generate(last);

        assertThat(rows.size()).isBetween(5_000, 10_000);
        assertThat(rows).allSatisfy(row -> {
            LocalDate day = row.occurredAt().atOffset(ZoneOffset.UTC).toLocalDate();
            assertThat(day).isBetween(last.minusDays(29), last);
            assertThat(row.inputTokens()).isPositive();
            assertThat(row.outputTokens()).isPositive();
            assertThat(row.latencyMs()).isBetween(100, 600_000);
            assertThat(row.costUsd()).isEqualByComparingTo(
                    catalog.cost(row.provider(), row.model(), day, row.inputTokens(), row.outputTokens()).orElseThrow()
                            .setScale(8, java.math.RoundingMode.HALF_UP));
        });
        assertThat(rows.stream().map(UsageRow::provider).distinct()).containsExactlyInAnyOrder("openai", "anthropic", "google");
        assertThat(rows.stream().map(UsageRow::model).distinct().count()).isGreaterThanOrEqualTo(5);
        assertThat(rows.stream().map(UsageRow::feature).distinct().count()).isGreaterThanOrEqualTo(5);
        assertThat(rows.stream().map(r -> r.occurredAt().atOffset(ZoneOffset.UTC).toLocalDate())
                .collect(Collectors.toSet())).hasSize(30);
        // Output-heavy code review on the largest model runs slower than classification on the smallest.
        double reviewLatency = rows.stream().filter(r -> r.feature().equals("code_review"))
                .mapToInt(UsageRow::latencyMs).average().orElseThrow();
        double classifyLatency = rows.stream().filter(r -> r.feature().equals("classification"))
                .mapToInt(UsageRow::latencyMs).average().orElseThrow();
        assertThat(reviewLatency).isGreaterThan(5 * classifyLatency);
    }
}
