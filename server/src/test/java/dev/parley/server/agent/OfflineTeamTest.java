package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.protocol.EventType;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.SampleUsage;
import dev.parley.server.usage.UsageStore;
import dev.parley.server.usage.UsageTestData;
import dev.parley.server.usage.UsageTestData.StoredRow;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The offline team end to end at the agent level, on the embedded database holding the sample month: answers carry
 * the user's own figures, worked out here independently with plain SQL and stream arithmetic over the same rows.
 */
class OfflineTeamTest {
    private static final MutableClock CLOCK = new MutableClock(Instant.parse("2026-11-28T12:00:00Z"));
    private static final PriceCatalog CATALOG = PriceCatalog.bundled();
    private static Database database;
    private static UsageStore store;
    private static Agent agent;
    private static String user;
    private static List<StoredRow> rows;

    @BeforeAll
    static void start() {
        database = UsageTestData.embedded();
        store = new UsageStore(database.sql(), CLOCK);
        user = UsageTestData.newUser(database);
        store.replaceSample(user, new SampleUsage(CATALOG).generate(LocalDate.of(2026, 11, 27)));
        rows = UsageTestData.rows(database, user);
        agent = Agents.create(offline(Duration.ZERO), store, CATALOG, CLOCK);
    }

    @AfterAll
    static void stop() {
        database.close();
    }

    private static Config.Agent offline(Duration stepDelay) {
        return new Config.Agent(stepDelay, Config.LlmProvider.NONE, Optional.empty(), Optional.empty(), Optional.empty());
    }

    private static String usd(BigDecimal amount) {
        return amount.abs().compareTo(BigDecimal.ONE) >= 0
                ? String.format(Locale.ROOT, "$%,.2f", amount.setScale(2, RoundingMode.HALF_UP))
                : String.format(Locale.ROOT, "$%.4f", amount.setScale(4, RoundingMode.HALF_UP));
    }

    private static BigDecimal cost(List<StoredRow> some) {
        return some.stream().map(StoredRow::costUsd).reduce(BigDecimal.ZERO, BigDecimal::add);
    }

    private static Map<String, List<StoredRow>> by(Function<StoredRow, String> key) {
        return rows.stream().collect(Collectors.groupingBy(key));
    }

    private static String top(Map<String, List<StoredRow>> groups) {
        return groups.entrySet().stream().max(Comparator.comparing(e -> cost(e.getValue()))).orElseThrow().getKey();
    }

    @Test
    void whereTheMoneyGoesCarriesTheUsersOwnFigures() throws Exception {
        RecordingRun run = new RecordingRun(user, "Where does my money go? Analyze my AI costs.");
        Answer answer = agent.run(run);

        String text = answer.text();
        assertThat(text).contains("## Where your money goes");
        assertThat(text).contains(usd(cost(rows)));
        assertThat(text).contains(String.format(Locale.ROOT, "%,d", rows.size()));
        Map<String, List<StoredRow>> perModel = by(StoredRow::model);
        String topModel = top(perModel);
        assertThat(text).contains("**" + topModel + "** at " + usd(cost(perModel.get(topModel))));
        Map<String, List<StoredRow>> perFeature = by(StoredRow::feature);
        String topFeature = top(perFeature);
        assertThat(text).contains("**" + topFeature + "** at " + usd(cost(perFeature.get(topFeature))));
        for (Map.Entry<String, List<StoredRow>> feature : perFeature.entrySet()) {
            assertThat(text).contains("| " + feature.getKey() + " | " + String.format(Locale.ROOT, "%,d", feature.getValue().size())
                    + " | " + usd(cost(feature.getValue())) + " |");
        }
        // Moving each model to its lighter model: the same tokens at the lighter model's list price.
        BigDecimal saving = BigDecimal.ZERO;
        for (Map.Entry<String, List<StoredRow>> model : perModel.entrySet()) {
            Optional<String> lighter = CATALOG.current(null, model.getKey()).map(PriceCatalog.Price::lighterModel);
            if (lighter.isEmpty()) {
                continue;
            }
            PriceCatalog.Price price = CATALOG.current(null, lighter.get()).orElseThrow();
            long in = model.getValue().stream().mapToLong(StoredRow::inputTokens).sum();
            long out = model.getValue().stream().mapToLong(StoredRow::outputTokens).sum();
            BigDecimal estimated = price.input().multiply(BigDecimal.valueOf(in))
                    .add(price.output().multiply(BigDecimal.valueOf(out))).divide(BigDecimal.valueOf(1_000_000));
            saving = saving.add(cost(model.getValue()).subtract(estimated));
        }
        assertThat(text).contains("**Move to lighter models**: about **" + usd(saving) + "** less");
        assertThat(text).contains("Cache stable prompt prefixes").contains("Batch summarization");
        assertThat(run.streamedText()).isEqualTo(text);
        assertThat(run.usage()).isEqualTo(Usage.ZERO);
    }

    @Test
    void eventsComeInContractOrderWithPairedToolCalls() throws Exception {
        RecordingRun run = new RecordingRun(user, "Analyze my costs");
        Answer answer = agent.run(run);
        List<RecordingRun.Event> events = run.events();

        assertThat(events.getFirst().type()).isEqualTo(EventType.AGENT_THINKING);
        assertThat(events.getFirst().agent()).isEqualTo("triage");
        assertThat(events.getFirst().data().path("step_number").asInt()).isEqualTo(1);
        assertThat(events.getLast().type()).isEqualTo(EventType.PARTIAL_RESULT);
        List<String> agents = events.stream().map(RecordingRun.Event::agent).distinct().toList();
        assertThat(agents).containsExactly("triage", "data", "optimization", "reporting");
        List<String> tools = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            RecordingRun.Event event = events.get(i);
            if (event.type().equals(EventType.TOOL_EXECUTING)) {
                RecordingRun.Event done = events.get(i + 1);
                assertThat(done.type()).isEqualTo(EventType.TOOL_COMPLETED);
                assertThat(done.data().path("tool_call_id").asText()).isEqualTo(event.data().path("tool_call_id").asText())
                        .isNotBlank();
                assertThat(done.data().path("tool_name").asText()).isEqualTo(event.data().path("tool_name").asText());
                assertThat(done.data().path("status").asText()).isEqualTo("success");
                assertThat(done.data().path("execution_time_ms").asLong()).isGreaterThanOrEqualTo(0);
                assertThat(event.data().path("parameters").isObject()).isTrue();
                tools.add(event.data().path("tool_name").asText());
            }
        }
        assertThat(tools).startsWith("query_usage", "query_usage", "query_usage")
                .contains("price_catalog", "estimate_savings");
        assertThat(run.events(EventType.TOOL_EXECUTING).stream().map(e -> e.data().path("tool_call_id").asText()).distinct())
                .hasSize(tools.size());
        int lastTool = events.stream().map(RecordingRun.Event::type).toList().lastIndexOf(EventType.TOOL_COMPLETED);
        int firstPartial = events.stream().map(RecordingRun.Event::type).toList().indexOf(EventType.PARTIAL_RESULT);
        assertThat(firstPartial).isGreaterThan(lastTool);
        // Unpaced, the whole answer is ready at once and goes out as one delta.
        assertThat(run.events(EventType.PARTIAL_RESULT)).extracting(e -> e.data().path("delta").asText())
                .containsExactly(answer.text());
        assertThat(run.events(EventType.AGENT_THINKING)).extracting(e -> e.data().path("progress_percentage").asInt())
                .isSorted();
    }

    @Test
    void latencyAnswerGivesPercentilesFromTheUsersRecords() throws Exception {
        Answer answer = agent.run(new RecordingRun(user, "What is slow? Show me latency."));
        List<Integer> all = rows.stream().map(StoredRow::latencyMs).toList();
        assertThat(answer.text()).contains("## What is slow")
                .contains(String.format(Locale.ROOT, "median latency is **%,d ms**", UsageTestData.percentile(all, 0.5)))
                .contains(String.format(Locale.ROOT, "95th percentile **%,d ms**", UsageTestData.percentile(all, 0.95)));
        Map<String, List<StoredRow>> perFeature = by(StoredRow::feature);
        String slowest = perFeature.entrySet().stream().max(Comparator.comparingLong(e ->
                UsageTestData.percentile(e.getValue().stream().map(StoredRow::latencyMs).toList(), 0.95))).orElseThrow().getKey();
        long p95 = UsageTestData.percentile(perFeature.get(slowest).stream().map(StoredRow::latencyMs).toList(), 0.95);
        assertThat(answer.text()).contains(String.format(Locale.ROOT, "**%s** is the slowest feature (p95 %,d ms", slowest, p95));
    }

    @Test
    void whatIfPricesTheFeaturesTokensOnTheTargetModel() throws Exception {
        RecordingRun run = new RecordingRun(user, "What if we moved Summarization to Claude Haiku 4.5?");
        Answer answer = agent.run(run);

        List<StoredRow> summarization = rows.stream().filter(r -> r.feature().equals("summarization")).toList();
        long in = summarization.stream().mapToLong(StoredRow::inputTokens).sum();
        long out = summarization.stream().mapToLong(StoredRow::outputTokens).sum();
        BigDecimal estimated = new BigDecimal("1.00").multiply(BigDecimal.valueOf(in))
                .add(new BigDecimal("5.00").multiply(BigDecimal.valueOf(out))).divide(BigDecimal.valueOf(1_000_000));
        assertThat(answer.text()).contains("## What if summarization moved to claude-haiku-4-5")
                .contains("costing **" + usd(cost(summarization)) + "**")
                .contains(String.format(Locale.ROOT, "%,d input tokens × $1/M", in))
                .contains("| " + usd(cost(summarization)) + " | " + usd(estimated) + " |")
                .contains("**Estimated saving: " + usd(cost(summarization).subtract(estimated)) + "**");
        assertThat(run.events(EventType.TOOL_EXECUTING)).anySatisfy(e -> {
            assertThat(e.data().path("tool_name").asText()).isEqualTo("estimate_savings");
            assertThat(e.data().path("parameters").path("target_model").asText()).isEqualTo("claude-haiku-4-5");
            assertThat(e.data().path("parameters").path("feature").asText()).isEqualTo("summarization");
        });
    }

    @Test
    void providersAreComparedOnTheirOwnCosts() throws Exception {
        Answer answer = agent.run(new RecordingRun(user, "Compare providers: OpenAI vs Anthropic vs Google"));
        assertThat(answer.text()).contains("## Providers compared");
        for (Map.Entry<String, List<StoredRow>> provider : by(StoredRow::provider).entrySet()) {
            assertThat(answer.text()).contains("| " + provider.getKey() + " | "
                    + String.format(Locale.ROOT, "%,d", provider.getValue().size()) + " | " + usd(cost(provider.getValue())) + " |");
        }
    }

    @Test
    void priceQuestionsAreAnsweredFromTheCatalogAlone() throws Exception {
        RecordingRun run = new RecordingRun(user, "How much does gpt-4o-mini cost?");
        Answer answer = agent.run(run);
        assertThat(answer.text()).contains("## Prices").contains("| gpt-4o-mini | openai | $0.15/M | $0.075/M | $0.6/M | 2024-07-18 |");
        assertThat(run.events(EventType.TOOL_EXECUTING)).extracting(e -> e.data().path("tool_name").asText())
                .containsExactly("price_catalog");
    }

    @Test
    void aUserWithoutDataGetsACompleteRunThatSaysHowToAddData() throws Exception {
        String newcomer = UsageTestData.newUser(database);
        RecordingRun run = new RecordingRun(newcomer, "Where does my money go?");
        Answer answer = agent.run(run);

        assertThat(run.events(EventType.TOOL_COMPLETED)).singleElement().satisfies(e -> {
            assertThat(e.data().path("tool_name").asText()).isEqualTo("query_usage");
            assertThat(e.data().path("result").path("totals").path("requests").asInt()).isZero();
        });
        assertThat(run.events().stream().map(RecordingRun.Event::agent).distinct())
                .containsExactly("triage", "data", "reporting");
        assertThat(answer.text()).contains("No usage data yet").contains("POST /api/usage/sample")
                .contains("POST /api/usage").doesNotContain("$");
        assertThat(run.streamedText()).isEqualTo(answer.text());
    }

    @Test
    void aQuestionOutsideTheDataGetsAnHonestAnswerWithoutNumbers() throws Exception {
        RecordingRun run = new RecordingRun(user, "Write me a poem about the sea");
        Answer answer = agent.run(run);

        assertThat(run.events(EventType.TOOL_EXECUTING)).isEmpty();
        assertThat(answer.text()).contains("What I can help with").contains("will not guess")
                .contains("Where does my money go?").doesNotContain("$");
        // No figure at all: once names such as p95 or gpt-4o-mini are taken out, no digit is left.
        assertThat(answer.text().replaceAll("[\\w.-]*[A-Za-z][\\w.-]*", "")).doesNotContainPattern("\\d");
    }

    @Test
    void theStepDelayPausesBetweenTheSteps() throws Exception {
        List<Duration> pauses = new java.util.concurrent.CopyOnWriteArrayList<>();
        Agent paced = Agents.create(offline(Duration.ofMillis(150)), store, CATALOG, CLOCK, pauses::add);
        RecordingRun run = new RecordingRun(user, "Where does my money go?");
        paced.run(run);
        // triage | data | optimization | reporting: three step pauses, then a twentieth of a step after each line.
        assertThat(pauses.subList(0, 3)).containsExactly(Duration.ofMillis(150), Duration.ofMillis(150),
                Duration.ofMillis(150));
        assertThat(pauses.subList(3, pauses.size())).hasSize(run.events(EventType.PARTIAL_RESULT).size())
                .containsOnly(Duration.ofMillis(150).dividedBy(20));
    }

    @Test
    void interruptStopsARunWithinASecondWhileTheStepDelayIsLarge() throws Exception {
        Agent slow = Agents.create(offline(Duration.ofSeconds(60)), store, CATALOG, CLOCK);
        RecordingRun run = new RecordingRun(user, "Where does my money go?");
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        CompletableFuture<Void> ended = new CompletableFuture<>();
        Thread worker = Thread.ofPlatform().start(() -> {
            try {
                slow.run(run);
            } catch (Throwable t) {
                outcome.set(t);
            } finally {
                ended.complete(null);
            }
        });
        run.await(e -> e.type().equals(EventType.AGENT_THINKING), Duration.ofSeconds(5));

        long interruptedAt = System.nanoTime();
        worker.interrupt();
        ended.get(1, TimeUnit.SECONDS);

        assertThat(Duration.ofNanos(System.nanoTime() - interruptedAt)).isLessThan(Duration.ofSeconds(1));
        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        assertThat(run.events(EventType.PARTIAL_RESULT)).isEmpty();
        assertThat(run.events(EventType.TOOL_EXECUTING)).isEmpty();
    }
}
