package dev.parley.server.golden;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.db.Database;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import dev.parley.server.usage.UsageTestData;
import dev.parley.server.usage.UsageTestData.StoredRow;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The golden path on the real server with its real, offline agent: a new user registers, loads the sample usage
 * data, asks over the socket, watches the whole run and gets a stored Markdown answer whose figures match numbers
 * computed here with plain SQL over the same rows.
 */
class GoldenPathTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;
    private static Database sameDatabase;

    @BeforeAll
    static void start() {
        app = servers.start();
        sameDatabase = servers.keep(Database.open(Database.sqliteUrl(app.dataDir().toAbsolutePath().normalize().resolve("parley.db")),
                2));
    }

    private static String usd(BigDecimal amount) {
        return amount.abs().compareTo(BigDecimal.ONE) >= 0
                ? String.format(Locale.ROOT, "$%,.2f", amount.setScale(2, RoundingMode.HALF_UP))
                : String.format(Locale.ROOT, "$%.4f", amount.setScale(4, RoundingMode.HALF_UP));
    }

    private static BigDecimal cost(List<StoredRow> rows) {
        return rows.stream().map(StoredRow::costUsd).reduce(BigDecimal.ZERO, BigDecimal::add);
    }

    @Test
    void newUserLoadsSampleAsksAndGetsTheFullRunAndAStoredAnswerWithTheirFigures() {
        TestUsers.User user = TestUsers.register(app);
        TestApp.Response sample = app.post("/api/usage/sample", "{}", user.accessToken());
        assertThat(sample.status()).isEqualTo(201);

        List<JsonNode> events;
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            assertThat(socket.next().path("type").asText()).isEqualTo("connection_established");
            ObjectNode payload = Json.object().put("user_request", "Analyze my AI costs");
            socket.send("start_agent", payload);
            JsonNode started = socket.await("agent_started");
            events = new java.util.ArrayList<>(List.of(started));
            events.addAll(socket.runEvents(started.path("run_id").asText()));
        }

        List<String> types = events.stream().map(event -> event.path("type").asText()).toList();
        assertThat(types.getFirst()).isEqualTo("agent_started");
        assertThat(types.getLast()).isEqualTo("agent_completed");
        assertThat(types).contains("agent_thinking", "tool_executing", "tool_completed", "partial_result");
        assertThat(Set.copyOf(types)).isSubsetOf("agent_started", "agent_thinking", "tool_executing",
                "tool_completed", "partial_result", "agent_completed");
        Map<String, Integer> openCalls = new HashMap<>();
        StringBuilder streamed = new StringBuilder();
        for (int i = 0; i < events.size(); i++) {
            JsonNode event = events.get(i);
            assertThat(event.path("seq").asLong()).isEqualTo(i + 1);
            assertThat(event.path("run_id").asText()).isEqualTo(events.getFirst().path("run_id").asText());
            switch (event.path("type").asText()) {
                case "tool_executing" -> openCalls.merge(event.path("data").path("tool_call_id").asText(), 1, Integer::sum);
                case "tool_completed" -> {
                    assertThat(openCalls.remove(event.path("data").path("tool_call_id").asText())).isEqualTo(1);
                    assertThat(event.path("data").path("status").asText()).isEqualTo("success");
                }
                case "partial_result" -> streamed.append(event.path("data").path("delta").asText());
                default -> {
                }
            }
        }
        assertThat(openCalls).isEmpty();

        JsonNode completed = events.getLast().path("data");
        assertThat(completed.path("status").asText()).isEqualTo("completed");
        String answer = completed.path("final_response").asText();
        assertThat(answer).isEqualTo(streamed.toString());

        List<StoredRow> rows = UsageTestData.rows(sameDatabase, user.id());
        assertThat(rows).hasSize(sample.json().path("accepted").asInt());
        assertThat(answer).startsWith("#").contains("## Where your money goes");
        assertThat(answer).contains(usd(cost(rows)));
        assertThat(answer).contains(String.format(Locale.ROOT, "%,d", rows.size()));
        Map<String, List<StoredRow>> perFeature = rows.stream().collect(Collectors.groupingBy(StoredRow::feature));
        perFeature.forEach((feature, some) -> assertThat(answer)
                .contains("| " + feature + " | " + String.format(Locale.ROOT, "%,d", some.size()) + " | " + usd(cost(some)) + " |"));

        String threadId = events.getFirst().path("thread_id").asText();
        JsonNode messages = app.get("/api/threads/" + threadId + "/messages", user.accessToken()).json().path("messages");
        assertThat(messages).hasSize(2);
        assertThat(messages.get(0).path("role").asText()).isEqualTo("user");
        assertThat(messages.get(0).path("content").asText()).isEqualTo("Analyze my AI costs");
        assertThat(messages.get(1).path("role").asText()).isEqualTo("assistant");
        assertThat(messages.get(1).path("content").asText()).isEqualTo(answer);
        assertThat(messages.get(1).path("id").asText()).isEqualTo(completed.path("message_id").asText());
        JsonNode run = app.get("/api/runs/" + events.getFirst().path("run_id").asText(), user.accessToken()).json();
        assertThat(run.path("status").asText()).isEqualTo("completed");
    }

    @Test
    void aClientCanAskForAPaceToWatchAndStopTheOfflineAgent() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.next();
            socket.send("start_agent", Json.object().put("user_request", "Analyze my AI costs")
                    .set("settings", Json.object().put("step_delay_ms", 5000)));
            String runId = socket.await("agent_started").path("run_id").asText();
            socket.await("agent_thinking");
            long stopAt = System.nanoTime();
            socket.send("stop_agent", Json.object().put("run_id", runId));
            JsonNode completed = socket.await("agent_completed");
            assertThat(Duration.ofNanos(System.nanoTime() - stopAt)).isLessThan(Duration.ofSeconds(1));
            assertThat(completed.path("data").path("status").asText()).isEqualTo("cancelled");

            socket.send("start_agent", Json.object().put("user_request", "Analyze my AI costs")
                    .set("settings", Json.object().put("step_delay_ms", 60_000)), "too-slow");
            JsonNode refused = socket.await("error");
            assertThat(refused.path("data").path("error").path("code").asText()).isEqualTo("invalid_message");
            assertThat(refused.path("data").path("error").path("message").asText()).contains("step_delay_ms");
            assertThat(refused.path("data").path("in_reply_to").asText()).isEqualTo("too-slow");
        }
    }

    @Test
    void aUserWithoutDataGetsACompleteRunThatSaysHowToAddData() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.next();
            socket.send("start_agent", Json.object().put("user_request", "Analyze my AI costs"));
            String runId = socket.await("agent_started").path("run_id").asText();
            List<JsonNode> events = socket.runEvents(runId);
            JsonNode completed = events.getLast().path("data");
            assertThat(completed.path("status").asText()).isEqualTo("completed");
            assertThat(completed.path("final_response").asText()).contains("sample").doesNotContain("$");
        }
    }
}
