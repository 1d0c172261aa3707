package dev.parley.server.budget;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.math.BigDecimal;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Spend budgets on one instance (embedded database), over real sockets, against a local server speaking the OpenAI
 * streaming wire format: what a run is charged, when a start is refused, when a run runs out, what a stop gives back,
 * and the warning.
 */
public class BudgetRunsTest {
    /** gpt-4o-mini: USD 0.15 per million input tokens, 0.60 per million output tokens. */
    private static final BigDecimal INPUT_PRICE = new BigDecimal("0.00000015");
    private static final BigDecimal OUTPUT_PRICE = new BigDecimal("0.00000060");

    public static Map<String, String> llm(OpenAiWireServer model, String budgetUsd) {
        Map<String, String> env = new HashMap<>();
        env.put("PARLEY_LLM_PROVIDER", "openai");
        env.put("PARLEY_LLM_API_KEY", "test-key");
        env.put("PARLEY_LLM_MODEL", OpenAiWireServer.MODEL);
        env.put("PARLEY_LLM_BASE_URL", model.baseUrl());
        if (budgetUsd != null) {
            env.put("PARLEY_BUDGET_USD", budgetUsd);
        }
        return env;
    }

    static BigDecimal callCost(long prompt, long completion) {
        return INPUT_PRICE.multiply(BigDecimal.valueOf(prompt)).add(OUTPUT_PRICE.multiply(BigDecimal.valueOf(completion)));
    }

    static void start(SocketClient socket, String request) {
        ObjectNode payload = Json.object().put("user_request", request);
        socket.send("start_agent", payload);
    }

    /** Starts a run on {@code socket}; its id, once the run has started. */
    static String startRun(SocketClient socket, String request) {
        start(socket, request);
        return socket.await("agent_started").path("run_id").asText();
    }

    /** Asserts that the user's budget has {@code spent} charged and nothing still held for a run. */
    static void assertSettled(TestApp app, String token, BigDecimal spent) {
        JsonNode budget = app.get("/api/budget", token).json();
        assertThat(decimal(budget.path("spent_usd"))).isEqualByComparingTo(spent);
        assertThat(decimal(budget.path("reserved_usd"))).isEqualByComparingTo("0");
    }

    static List<JsonNode> ofType(List<JsonNode> events, String type) {
        return events.stream().filter(event -> type.equals(event.path("type").asText())).toList();
    }

    static BigDecimal decimal(JsonNode node) {
        return new BigDecimal(node.asText());
    }

    @Test
    void eachCallIsChargedWhatItReportsAndTheLedgerShowsTheSum() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(2, 1000, 200);
             TestApp app = TestApp.start(llm(model, "1.00"));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            String runId = startRun(socket, "Where does my money go?");
            List<JsonNode> events = socket.runEvents(runId);

            List<JsonNode> costs = ofType(events, "cost_updated");
            BigDecimal perCall = callCost(1000, 200);
            assertThat(costs).hasSize(2);
            assertThat(decimal(costs.get(0).path("data").path("call_cost_usd"))).isEqualByComparingTo(perCall);
            assertThat(decimal(costs.get(0).path("data").path("run_cost_usd"))).isEqualByComparingTo(perCall);
            assertThat(decimal(costs.get(1).path("data").path("run_cost_usd"))).isEqualByComparingTo(perCall.add(perCall));
            assertThat(decimal(costs.get(1).path("data").path("remaining_usd")))
                    .isEqualByComparingTo(BigDecimal.ONE.subtract(perCall.add(perCall)));
            JsonNode completed = events.getLast();
            assertThat(completed.path("type").asText()).isEqualTo("agent_completed");
            assertThat(completed.path("data").path("status").asText()).isEqualTo("completed");
            assertThat(decimal(completed.path("data").path("usage").path("cost_usd")))
                    .isEqualByComparingTo(perCall.add(perCall));

            JsonNode budget = app.get("/api/budget", token).json();
            assertThat(decimal(budget.path("limit_usd"))).isEqualByComparingTo("1.00");
            assertThat(decimal(budget.path("spent_usd"))).isEqualByComparingTo(perCall.add(perCall));
            assertThat(decimal(budget.path("reserved_usd"))).isEqualByComparingTo("0");
            assertThat(decimal(budget.path("remaining_usd"))).isEqualByComparingTo(BigDecimal.ONE.subtract(perCall.add(perCall)));
            assertThat(Instant.parse(budget.path("period_end").asText())).isAfter(Instant.now());
            assertThat(app.app().metrics().scrape()).contains("parley_budget_spent_usd");
        }
    }

    @Test
    void aRunsCostsCountAsHeldWhileItRunsAndAreChargedWhenItEnds() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(3, 1000, 200).pausing(Duration.ofMillis(1500));
             TestApp app = TestApp.start(llm(model, "1.00"));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            String runId = startRun(socket, "Where does my money go?");
            BigDecimal perCall = callCost(1000, 200);

            JsonNode first = socket.await("cost_updated"); // the second call is now paused mid-stream
            JsonNode during = app.get("/api/budget", token).json();
            assertThat(decimal(during.path("spent_usd"))).isEqualByComparingTo("0");
            assertThat(decimal(during.path("reserved_usd"))).isGreaterThan(perCall);
            assertThat(decimal(first.path("data").path("remaining_usd")))
                    .isLessThanOrEqualTo(BigDecimal.ONE.subtract(perCall));

            List<JsonNode> rest = socket.runEvents(runId);
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
            BigDecimal total = perCall.multiply(BigDecimal.valueOf(3));
            assertThat(decimal(ofType(rest, "cost_updated").getLast().path("data").path("remaining_usd")))
                    .isEqualByComparingTo(BigDecimal.ONE.subtract(total));
            assertSettled(app, token, total);
        }
    }

    @Test
    void aStartTheBudgetCannotCoverIsRefusedBeforeAnythingIsStored() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(1, 1000, 200);
             TestApp app = TestApp.start(llm(model, "0.001"));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            start(socket, "Where does my money go?");
            JsonNode error = socket.await("error").path("data").path("error");

            assertThat(error.path("code").asText()).isEqualTo("budget_exceeded");
            assertThat(decimal(error.path("remaining_usd"))).isEqualByComparingTo("0.001");
            assertThat(Instant.parse(error.path("resets_at").asText())).isAfter(Instant.now());
            assertThat(app.get("/api/threads", token).json().path("total").asLong()).isZero();
            assertThat(model.requests()).isZero();
            assertThat(app.app().metrics().counter("parley_budget_refusals_total")).isEqualTo(1);
            assertSettled(app, token, BigDecimal.ZERO);
        }
    }

    @Test
    void aRunThatCannotReserveItsNextCallEndsBudgetExhaustedWithItsPartialAnswerStored() throws Exception {
        // The first call fits (about 0.003 reserved), and costs 0.00255; the second cannot be reserved on top of it.
        try (OpenAiWireServer model = new OpenAiWireServer(2, 1000, 4000);
             TestApp app = TestApp.start(llm(model, "0.004"));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            String runId = startRun(socket, "Where does my money go?");
            List<JsonNode> events = socket.runEvents(runId);

            JsonNode completed = events.getLast();
            assertThat(completed.path("type").asText()).as(socket.summary()).isEqualTo("agent_completed");
            assertThat(completed.path("data").path("status").asText()).isEqualTo("budget_exhausted");
            assertThat(completed.path("data").path("message_id").asText()).isNotBlank();
            assertThat(ofType(events, "tool_completed")).hasSize(1);
            BigDecimal first = callCost(1000, 4000);
            assertThat(decimal(completed.path("data").path("usage").path("cost_usd"))).isEqualByComparingTo(first);
            assertThat(model.requests()).isEqualTo(1);
            assertThat(app.get("/api/runs/" + runId, token).json().path("status").asText()).isEqualTo("budget_exhausted");
            String threadId = completed.path("thread_id").asText();
            JsonNode messages = app.get("/api/threads/" + threadId + "/messages", token).json().path("messages");
            assertThat(messages).hasSize(2);
            assertThat(messages.get(1).path("id").asText()).isEqualTo(completed.path("data").path("message_id").asText());
            assertSettled(app, token, first);
        }
    }

    @Test
    void aStreamThatReportsNoUsageIsChargedItsReservation() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(1, 1000, 200).withoutUsage();
             TestApp app = TestApp.start(llm(model, "1.00"));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            String runId = startRun(socket, "Where does my money go?");
            List<JsonNode> events = socket.runEvents(runId);

            JsonNode completed = events.getLast();
            assertThat(completed.path("data").path("status").asText()).isEqualTo("completed");
            BigDecimal charged = decimal(completed.path("data").path("usage").path("cost_usd"));
            // The reservation: the request's bytes at the input price plus the 4096-token cap at the output price.
            BigDecimal outputCap = OUTPUT_PRICE.multiply(BigDecimal.valueOf(4096));
            assertThat(charged).isGreaterThan(outputCap);
            assertThat(charged).isLessThan(outputCap.add(INPUT_PRICE.multiply(BigDecimal.valueOf(64 * 1024))));
            assertThat(decimal(ofType(events, "cost_updated").getFirst().path("data").path("call_cost_usd")))
                    .isEqualByComparingTo(charged);
            assertSettled(app, token, charged);
        }
    }

    @Test
    void aStoppedRunGivesItsHoldBack() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(1, 1000, 200).stalling();
             TestApp app = TestApp.start(llm(model, "1.00"));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            String runId = startRun(socket, "Where does my money go?");
            assertThat(model.awaitStalled(Duration.ofSeconds(10))).isTrue();
            JsonNode holding = app.get("/api/budget", token).json();
            assertThat(decimal(holding.path("reserved_usd"))).isPositive();
            assertThat(decimal(holding.path("remaining_usd")))
                    .isEqualByComparingTo(BigDecimal.ONE.subtract(decimal(holding.path("reserved_usd"))));

            socket.send("stop_agent", Json.object().put("run_id", runId));
            JsonNode completed = socket.runEvents(runId).getLast();

            assertThat(completed.path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(model.awaitClientGone(Duration.ofSeconds(10))).isTrue();
            JsonNode budget = app.get("/api/budget", token).json();
            assertThat(decimal(budget.path("reserved_usd"))).isEqualByComparingTo("0");
            assertThat(decimal(budget.path("spent_usd"))).isEqualByComparingTo("0");
            assertThat(decimal(budget.path("remaining_usd"))).isEqualByComparingTo("1.00");
        }
    }

    @Test
    void theWarningComesOncePerUserAndPeriod() throws Exception {
        Map<String, String> env = new HashMap<>();
        try (OpenAiWireServer model = new OpenAiWireServer(2, 1000, 200)) {
            env.putAll(llm(model, "0.01"));
            env.put("PARLEY_BUDGET_WARN_AT", "0.05"); // 0.0005: crossed by the second call of the first run
            try (TestApp app = TestApp.start(env);
                 SocketClient socket = connected(app, registered(app))) {
                String first = startRun(socket, "Where does my money go?");
                List<JsonNode> firstEvents = socket.runEvents(first);
                String second = startRun(socket, "And by feature?");
                List<JsonNode> secondEvents = socket.runEvents(second);

                List<JsonNode> warnings = ofType(firstEvents, "budget_warning");
                assertThat(warnings).hasSize(1);
                assertThat(decimal(warnings.getFirst().path("data").path("spent_usd")))
                        .isEqualByComparingTo(callCost(1000, 200).multiply(BigDecimal.TWO));
                assertThat(decimal(warnings.getFirst().path("data").path("limit_usd"))).isEqualByComparingTo("0.01");
                assertThat(ofType(secondEvents, "budget_warning")).isEmpty();
                assertThat(ofType(secondEvents, "cost_updated")).hasSize(2);
            }
        }
    }

    @Test
    void adminsSetOneUsersLimitAndOthersMayNot() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(1, 1000, 200)) {
            Map<String, String> env = new HashMap<>(llm(model, "5"));
            String adminEmail = "boss-" + System.nanoTime() + "@example.org";
            env.put("PARLEY_ADMIN_EMAILS", adminEmail);
            try (TestApp app = TestApp.start(env)) {
                TestUsers.User user = TestUsers.register(app);
                TestApp.Response registered = app.post("/auth/register", Json.write(Json.object()
                        .put("email", adminEmail).put("password", TestUsers.PASSWORD)), null);
                String admin = registered.json().path("access_token").asText();
                String path = "/api/admin/budgets/" + user.id();

                assertThat(put(app, path, "{\"limit_usd\":2}", user.accessToken()).status()).isEqualTo(403);
                assertThat(put(app, path, "{\"limit_usd\":2}", user.accessToken()).json().path("error").path("code")
                        .asText()).isEqualTo("forbidden");
                assertThat(app.get(path, user.accessToken()).status()).isEqualTo(403);
                assertThat(put(app, path, "{\"limit_usd\":-1}", admin).json().path("error").path("code").asText())
                        .isEqualTo("invalid_request");
                assertThat(put(app, path, "{\"limit_usd\":\"lots\"}", admin).status()).isEqualTo(400);
                assertThat(put(app, "/api/admin/budgets/no-such-user", "{\"limit_usd\":1}", admin).status())
                        .isEqualTo(404);

                TestApp.Response set = put(app, path, "{\"limit_usd\":2.5}", admin);
                assertThat(set.status()).as(set.body()).isEqualTo(200);
                assertThat(set.json().path("user_id").asText()).isEqualTo(user.id());
                assertThat(decimal(set.json().path("limit_usd"))).isEqualByComparingTo("2.5");
                assertThat(decimal(app.get(path, admin).json().path("limit_usd"))).isEqualByComparingTo("2.5");
                assertThat(decimal(app.get("/api/budget", user.accessToken()).json().path("limit_usd")))
                        .isEqualByComparingTo("2.5");

                TestApp.Response reset = put(app, path, "{\"limit_usd\":null}", admin);
                assertThat(reset.status()).isEqualTo(200);
                assertThat(reset.json().path("limit_usd").isNull()).isTrue();
                assertThat(decimal(app.get("/api/budget", user.accessToken()).json().path("limit_usd")))
                        .isEqualByComparingTo("5");

                assertThat(put(app, path, "{\"limit_usd\":0}", admin).status()).isEqualTo(200);
                try (SocketClient socket = connected(app, user)) {
                    start(socket, "Where does my money go?");
                    assertThat(socket.await("error").path("data").path("error").path("code").asText())
                            .isEqualTo("budget_exceeded");
                }
            }
        }
    }

    @Test
    void withoutABudgetALanguageModelRunHasNoBudgetEvents() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(2, 1000, 200);
             TestApp app = TestApp.start(llm(model, null));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            String runId = startRun(socket, "Where does my money go?");
            List<JsonNode> events = socket.runEvents(runId);

            assertThat(events.getLast().path("data").path("status").asText()).isEqualTo("completed");
            assertThat(decimal(events.getLast().path("data").path("usage").path("cost_usd")))
                    .isEqualByComparingTo(callCost(1000, 200).multiply(BigDecimal.TWO));
            assertThat(ofType(events, "cost_updated")).isEmpty();
            JsonNode budget = app.get("/api/budget", token).json();
            assertThat(budget.path("limit_usd").isNull()).isTrue();
            assertThat(budget.path("remaining_usd").isNull()).isTrue();
            assertThat(decimal(budget.path("spent_usd"))).isEqualByComparingTo("0");
            assertThat(app.app().metrics().scrape()).doesNotContain("parley_budget");
        }
    }

    @Test
    void offlineRunsAreUnaffectedAndCostNothing() {
        try (TestApp app = TestApp.start(Map.of("PARLEY_BUDGET_USD", "0"));
             SocketClient socket = connected(app, registered(app))) {
            String token = tokenOf(app, socket);
            String runId = startRun(socket, "Where does my money go?");
            List<JsonNode> events = socket.runEvents(runId);

            assertThat(events.getLast().path("data").path("status").asText()).isEqualTo("completed");
            assertThat(decimal(events.getLast().path("data").path("usage").path("cost_usd"))).isEqualByComparingTo("0");
            assertThat(ofType(events, "cost_updated")).isEmpty();
            assertThat(decimal(app.get("/api/budget", token).json().path("spent_usd"))).isEqualByComparingTo("0");
        }
    }

    @Test
    void aModelWithoutAPriceDoesNotRunUnderABudget() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(1, 1000, 200)) {
            Map<String, String> env = new HashMap<>(llm(model, "5"));
            env.put("PARLEY_LLM_MODEL", "house-model-7b");
            assertThatThrownBy(() -> TestApp.start(env).close())
                    .hasMessageContaining("house-model-7b").hasMessageContaining("PARLEY_LLM_PRICE");

            env.put("PARLEY_LLM_PRICE", "0.15,0.60");
            try (TestApp app = TestApp.start(env);
                 SocketClient socket = connected(app, registered(app))) {
                String runId = startRun(socket, "Where does my money go?");
                JsonNode completed = socket.runEvents(runId).getLast();
                assertThat(decimal(completed.path("data").path("usage").path("cost_usd")))
                        .isEqualByComparingTo(callCost(1000, 200));
            }
        }
    }

    static TestApp.Response put(TestApp app, String path, String body, String token) {
        return app.send(app.request(path, token).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    /** The user of the test's socket (JUnit makes an instance per test). */
    private TestUsers.User user;

    private TestUsers.User registered(TestApp app) {
        user = TestUsers.register(app);
        return user;
    }

    /** The access token of the socket's user, to read their budget with. */
    private String tokenOf(TestApp app, SocketClient socket) {
        return user.accessToken();
    }
}
