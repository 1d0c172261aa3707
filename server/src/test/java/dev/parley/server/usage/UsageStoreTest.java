package dev.parley.server.usage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.db.Database;
import dev.parley.server.testing.MutableClock;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The store's contract, run against the embedded database and against PostgreSQL. */
class UsageStoreTest {
    private static final MutableClock CLOCK = new MutableClock(Instant.parse("2026-11-28T12:00:00Z"));
    private static final List<UsageRow> SAMPLE = new SampleUsage(PriceCatalog.bundled()).generate(LocalDate.of(2026, 11, 27));

    static Stream<Arguments> databases() {
        return Stream.of(
                Arguments.of("embedded", (Supplier<Database>) UsageTestData::embedded),
                Arguments.of("postgresql", (Supplier<Database>) UsageTestData::postgres));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("databases")
    void aggregatesMatchSumsAndPercentilesComputedFromTheRows(String name, Supplier<Database> open) {
        try (Database database = open.get()) {
            UsageStore store = new UsageStore(database.sql(), CLOCK);
            String user = UsageTestData.newUser(database);
            store.add(user, SAMPLE, UsageStore.Source.UPLOAD);
            List<UsageTestData.StoredRow> rows = UsageTestData.rows(database, user);

            UsageSummary byModel = store.summarize(user, UsageFilter.ALL, Grouping.MODEL);
            assertThat(byModel.totals().requests()).isEqualTo(rows.size());
            assertThat(byModel.totals().costUsd()).isEqualByComparingTo(sum(rows));
            assertThat(byModel.totals().inputTokens()).isEqualTo(rows.stream().mapToLong(UsageTestData.StoredRow::inputTokens).sum());
            List<Integer> latencies = rows.stream().map(UsageTestData.StoredRow::latencyMs).toList();
            assertThat(byModel.totals().p50LatencyMs()).isEqualTo(UsageTestData.percentile(latencies, 0.5));
            assertThat(byModel.totals().p95LatencyMs()).isEqualTo(UsageTestData.percentile(latencies, 0.95));
            assertThat(byModel.totals().firstDay()).isEqualTo("2026-10-29");
            assertThat(byModel.totals().lastDay()).isEqualTo("2026-11-27");

            Map<String, List<UsageTestData.StoredRow>> perModel = rows.stream()
                    .collect(Collectors.groupingBy(UsageTestData.StoredRow::model));
            assertThat(byModel.groups()).hasSize(perModel.size());
            assertThat(byModel.groups()).isSortedAccordingTo(
                    Comparator.comparing(UsageSummary.Group::costUsd).reversed());
            for (UsageSummary.Group group : byModel.groups()) {
                List<UsageTestData.StoredRow> mine = perModel.get(group.key());
                assertThat(group.requests()).isEqualTo(mine.size());
                assertThat(group.costUsd()).isEqualByComparingTo(sum(mine));
                assertThat(group.provider()).isEqualTo(mine.getFirst().provider());
                List<Integer> lat = mine.stream().map(UsageTestData.StoredRow::latencyMs).toList();
                assertThat(group.p95LatencyMs()).isEqualTo(UsageTestData.percentile(lat, 0.95));
            }

            UsageSummary byDay = store.summarize(user, UsageFilter.ALL, Grouping.DAY);
            assertThat(byDay.groups()).hasSize(30);
            assertThat(byDay.groups()).extracting(UsageSummary.Group::key).isSorted();

            UsageFilter summarization = new UsageFilter(null, null, "summarization", LocalDate.of(2026, 11, 1),
                    LocalDate.of(2026, 11, 7));
            UsageSummary filtered = store.summarize(user, summarization, Grouping.FEATURE);
            List<UsageTestData.StoredRow> week = rows.stream().filter(r -> r.feature().equals("summarization")
                    && r.day().compareTo("2026-11-01") >= 0 && r.day().compareTo("2026-11-07") <= 0).toList();
            assertThat(filtered.groups()).singleElement().satisfies(g -> {
                assertThat(g.requests()).isEqualTo(week.size());
                assertThat(g.costUsd()).isEqualByComparingTo(sum(week));
            });
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("databases")
    void usersSeeOnlyTheirOwnRecordsAndSamplesReplaceOnlySamples(String name, Supplier<Database> open) {
        try (Database database = open.get()) {
            UsageStore store = new UsageStore(database.sql(), CLOCK);
            String alice = UsageTestData.newUser(database);
            String bob = UsageTestData.newUser(database);
            UsageRow upload = new UsageRow(Instant.parse("2026-11-02T10:00:00Z"), "openai", "gpt-4o-mini", "chat",
                    1000, 100, null, new BigDecimal("0.00021000"));
            store.add(alice, List.of(upload), UsageStore.Source.UPLOAD);
            store.replaceSample(alice, SAMPLE);
            assertThat(store.replaceSample(alice, SAMPLE)).isEqualTo(SAMPLE.size());

            assertThat(store.count(alice)).isEqualTo(SAMPLE.size() + 1);
            assertThat(store.count(bob)).isZero();
            UsageSummary empty = store.summarize(bob, UsageFilter.ALL, Grouping.FEATURE);
            assertThat(empty.totals().empty()).isTrue();
            assertThat(empty.totals().costUsd()).isEqualByComparingTo("0");
            assertThat(empty.totals().p50LatencyMs()).isNull();
            assertThat(empty.groups()).isEmpty();

            UsageSummary chat = store.summarize(alice, UsageFilter.feature("chat"), Grouping.MODEL);
            assertThat(chat.totals().requests()).isEqualTo(1);
            assertThat(chat.totals().p50LatencyMs()).isNull();

            assertThat(store.deleteAll(alice)).isEqualTo(SAMPLE.size() + 1);
            assertThat(store.count(alice)).isZero();
        }
    }

    private static BigDecimal sum(List<UsageTestData.StoredRow> rows) {
        return rows.stream().map(UsageTestData.StoredRow::costUsd).filter(Objects::nonNull)
                .reduce(BigDecimal.ZERO, BigDecimal::add);
    }

}
