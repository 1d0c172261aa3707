package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.server.budget.BudgetExceededException;
import dev.parley.server.budget.Budgets;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.SampleUsage;
import dev.parley.server.usage.UsageStore;
import dev.parley.server.usage.UsageTestData;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import dev.parley.server.observe.Metrics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every provider must do, driven through the real LangChain4j client against a local server that speaks the
 * provider's streaming wire format: a tool call round trip with streamed reasoning and text, usage priced from the
 * catalog, errors inside the stream and refusals as {@code llm_unavailable} with the right retryability, a cut
 * stream, and a stopped run that closes the connection.
 */
abstract class LlmProviderContract {
    static final MutableClock CLOCK = new MutableClock(Instant.parse("2026-11-28T12:00:00Z"));
    static final PriceCatalog CATALOG = PriceCatalog.bundled();
    static final String ANSWER_PART_1 = "Your costliest model ";
    static final String ANSWER_PART_2 = "is claude-opus-4-1.";
    static Database database;
    static ScheduledExecutorService scheduler;
    static UsageStore store;
    static String user;
    static long userRequests;

    /** What a provider's test names: the provider, the model asked for, its API's base path, its stream's media type. */
    record Wire(Config.LlmProvider provider, String model, String basePath, String contentType) {
    }

    final Wire wire;
    ScriptedLlmServer server;
    Agent agent;

    LlmProviderContract(Wire wire) {
        this.wire = wire;
    }

    @BeforeAll
    static void loadSample() {
        scheduler = Executors.newSingleThreadScheduledExecutor();
        database = UsageTestData.embedded();
        store = new UsageStore(database.sql(), CLOCK);
        user = UsageTestData.newUser(database);
        store.replaceSample(user, new SampleUsage(CATALOG).generate(LocalDate.of(2026, 11, 27)));
        userRequests = store.count(user);
    }

    @AfterAll
    static void closeDatabase() {
        scheduler.shutdownNow();
        database.close();
    }

    @BeforeEach
    void startServer() throws Exception {
        server = new ScriptedLlmServer();
        agent = Agents.create(agentConfig(), store, CATALOG, CLOCK);
    }

    @AfterEach
    void stopServer() throws Exception {
        ((AutoCloseable) agent).close();
        server.close();
    }

    private Config.Agent agentConfig() {
        return new Config.Agent(Duration.ZERO, wire.provider(), Optional.of(wire.model()), Optional.of("test-key"),
                Optional.of(URI.create(server.url(wire.basePath()))));
    }

    /** A first answer: some reasoning, then a call of query_usage with {"group_by":"model"}. */
    abstract List<String> toolCallStream();

    /** A second answer: the text {@link #ANSWER_PART_1} + {@link #ANSWER_PART_2} in two pieces. */
    abstract List<String> answerStream();

    /** Tokens the two answers report: input and output, summed. */
    abstract long[] reportedTokens();

    /** The tool call id the provider gave, or null when its format has none. */
    abstract String providerCallId();

    /** Checks the path, the credentials and, in the second request, the tool result sent back. */
    abstract void assertRequests(List<ScriptedLlmServer.Request> requests, String callId);

    abstract List<String> streamWithError();

    /** The error type or status the provider names in {@link #streamWithError()}. */
    abstract String streamErrorKind();

    abstract String errorBody(int status);

    /** A stream whose connection ends before the provider's end marker. */
    abstract List<String> cutStream();

    abstract List<String> firstChunks();

    abstract String heartbeat();

    private Answer run(RecordingRun run) throws InterruptedException {
        return agent.run(run);
    }

    @Test
    void toolCallRoundTripThenStreamedAnswer() throws Exception {
        server.then(ScriptedLlmServer.stream(wire.contentType(), toolCallStream()))
                .then(ScriptedLlmServer.stream(wire.contentType(), answerStream()));
        RecordingRun run = new RecordingRun(user, "Which model costs me the most?");

        Answer answer = run(run);

        assertThat(answer.text()).isEqualTo(ANSWER_PART_1 + ANSWER_PART_2);
        assertThat(run.events(EventType.PARTIAL_RESULT)).extracting(e -> e.data().path("delta").asText())
                .containsExactly(ANSWER_PART_1, ANSWER_PART_2);
        RecordingRun.Event executing = run.events(EventType.TOOL_EXECUTING).getFirst();
        RecordingRun.Event completed = run.events(EventType.TOOL_COMPLETED).getFirst();
        String callId = executing.data().path("tool_call_id").asText();
        if (providerCallId() != null) {
            assertThat(callId).isEqualTo(providerCallId());
        }
        assertThat(callId).isNotBlank().isEqualTo(completed.data().path("tool_call_id").asText());
        assertThat(executing.data().path("tool_name").asText()).isEqualTo("query_usage");
        assertThat(executing.data().path("parameters").path("group_by").asText()).isEqualTo("model");
        assertThat(completed.data().path("status").asText()).isEqualTo("success");
        assertThat(completed.data().path("result").path("totals").path("requests").asLong()).isEqualTo(userRequests);
        assertThat(run.events(EventType.AGENT_THINKING)).anySatisfy(e ->
                assertThat(e.data().path("reasoning").asText()).contains("spend by model"));

        List<String> order = run.events().stream().map(RecordingRun.Event::type).toList();
        assertThat(order.indexOf(EventType.TOOL_EXECUTING)).isLessThan(order.indexOf(EventType.TOOL_COMPLETED));
        assertThat(order.indexOf(EventType.TOOL_COMPLETED)).isLessThan(order.indexOf(EventType.PARTIAL_RESULT));

        long[] tokens = reportedTokens();
        assertThat(run.usage().inputTokens()).isEqualTo(tokens[0]);
        assertThat(run.usage().outputTokens()).isEqualTo(tokens[1]);
        BigDecimal expected = CATALOG.current(null, wire.model())
                .map(p -> p.input().multiply(BigDecimal.valueOf(tokens[0])).add(p.output().multiply(BigDecimal.valueOf(tokens[1])))
                        .divide(BigDecimal.valueOf(1_000_000)))
                .orElse(BigDecimal.ZERO).setScale(6, RoundingMode.HALF_UP);
        assertThat(run.usage().costUsd()).isEqualByComparingTo(expected);

        assertThat(server.requests()).hasSize(2);
        assertRequests(server.requests(), callId);
    }

    @Test
    void anErrorInsideTheStreamIsLlmUnavailableAndRetryable() {
        server.then(ScriptedLlmServer.stream(wire.contentType(), streamWithError()));
        RecordingRun run = new RecordingRun(user, "Where does my money go?");

        assertThatThrownBy(() -> run(run)).isInstanceOfSatisfying(AgentException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.LLM_UNAVAILABLE);
            assertThat(e.retryable()).isTrue();
            assertThat(e.getMessage()).contains("failed while answering (" + streamErrorKind() + ")");
        });
    }

    @Test
    void aRefusedKeyIsNotRetryableButARateLimitIs() {
        server.then(ScriptedLlmServer.status(401, errorBody(401)));
        assertThatThrownBy(() -> run(new RecordingRun(user, "Where does my money go?")))
                .isInstanceOfSatisfying(AgentException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.LLM_UNAVAILABLE);
                    assertThat(e.retryable()).isFalse();
                    assertThat(e.getMessage()).contains("PARLEY_LLM_API_KEY").doesNotContain("test-key");
                });

        server.then(ScriptedLlmServer.status(429, errorBody(429)));
        assertThatThrownBy(() -> run(new RecordingRun(user, "Where does my money go?")))
                .isInstanceOfSatisfying(AgentException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.LLM_UNAVAILABLE);
                    assertThat(e.retryable()).isTrue();
                });

        server.then(ScriptedLlmServer.status(400, errorBody(400)));
        assertThatThrownBy(() -> run(new RecordingRun(user, "Where does my money go?")))
                .isInstanceOfSatisfying(AgentException.class, e -> assertThat(e.retryable()).isFalse());
    }

    @Test
    void aStreamCutBeforeItsEndIsLlmUnavailable() {
        server.then(ScriptedLlmServer.stream(wire.contentType(), cutStream()));
        assertThatThrownBy(() -> run(new RecordingRun(user, "Where does my money go?")))
                .isInstanceOfSatisfying(AgentException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.LLM_UNAVAILABLE);
                    assertThat(e.retryable()).isTrue();
                });
    }

    @Test
    void stoppingTheRunClosesTheProviderStream() throws Exception {
        server.then(ScriptedLlmServer.stall(wire.contentType(), firstChunks(), heartbeat()));
        RecordingRun run = new RecordingRun(user, "Where does my money go?");
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        CompletableFuture<Void> ended = new CompletableFuture<>();
        Thread worker = Thread.ofPlatform().start(() -> {
            try {
                run(run);
            } catch (Throwable t) {
                outcome.set(t);
            } finally {
                ended.complete(null);
            }
        });
        run.await(e -> e.type().equals(EventType.PARTIAL_RESULT), Duration.ofSeconds(10));

        worker.interrupt();
        ended.get(1, TimeUnit.SECONDS);
        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);

        server.release();
        assertThat(server.awaitClientGone(Duration.ofSeconds(5))).as("the server saw the connection closed").isTrue();
    }

    /** The configured agent again, with a spend budget of {@code limitUsd} for every user. */
    private Agent budgeted(Budgets budgets) {
        return Agents.create(agentConfig(), store, CATALOG, CLOCK, budgets);
    }

    private static Budgets budgets(String limitUsd) {
        return new Budgets(database.sql(), new Config.Budget(Optional.of(new BigDecimal(limitUsd)),
                Config.BudgetPeriod.MONTH, new BigDecimal("0.8"), Set.of(), Optional.empty()), new Metrics(), CLOCK, scheduler);
    }

    @Test
    void underABudgetEachCallIsCappedReservedAndChargedWhatItReported() throws Exception {
        server.then(ScriptedLlmServer.stream(wire.contentType(), toolCallStream()))
                .then(ScriptedLlmServer.stream(wire.contentType(), answerStream()));
        String spender = UsageTestData.newUser(database);
        try (Budgets budgets = budgets("1")) {
            Agent agent = budgeted(budgets);
            RecordingRun run = new RecordingRun(spender, "Which model costs me the most?");
            try {
                agent.admit(spender, run.runId(), run.request());
                agent.run(run);
            } finally {
                agent.ended(run.runId());
                ((AutoCloseable) agent).close();
            }

            BigDecimal cost = run.usage().costUsd();
            if (wire.provider() == Config.LlmProvider.OLLAMA) {
                // A local model costs nothing: nothing is reserved or charged.
                assertThat(run.events(EventType.COST_UPDATED)).isEmpty();
                assertThat(budgets.status(spender).spentUsd()).isEqualByComparingTo("0");
                return;
            }
            assertThat(cost).isPositive();
            assertThat(run.events(EventType.COST_UPDATED)).hasSize(2);
            assertThat(run.events(EventType.COST_UPDATED).getLast().data().path("run_cost_usd").decimalValue())
                    .isEqualByComparingTo(cost);
            assertThat(budgets.status(spender).spentUsd()).isEqualByComparingTo(cost);
            assertThat(budgets.status(spender).reservedUsd()).isEqualByComparingTo("0");
            // Every call carries the output cap its reservation assumed.
            assertThat(server.requests()).allSatisfy(request -> assertThat(request.body().toString())
                    .contains(":" + LlmModels.MAX_OUTPUT_TOKENS));
        }
    }

    @Test
    void underABudgetThatCannotCoverTheFirstCallNothingIsSent() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(wire.provider() != Config.LlmProvider.OLLAMA, "local models are free");
        String spender = UsageTestData.newUser(database);
        try (Budgets budgets = budgets("0.0001")) {
            Agent agent = budgeted(budgets);
            try {
                assertThatThrownBy(() -> agent.admit(spender, "run-1", "Which model costs me the most?"))
                        .isInstanceOf(BudgetExceededException.class);
            } finally {
                agent.ended("run-1");
                ((AutoCloseable) agent).close();
            }
            assertThat(server.requests()).isEmpty();
            assertThat(budgets.status(spender).reservedUsd()).isEqualByComparingTo("0");
        }
    }
}
