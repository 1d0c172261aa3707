package dev.parley.server.budget;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.ServerProcess;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Two server processes on one PostgreSQL, one of them killed (SIGKILL) while its runs hold reservations: once the
 * survivor has ended the dead one's runs (their lease ran out), their holds are released, nothing stays reserved, and
 * what was spent never passed the limit.
 */
class BudgetKillTest {
    private static final String BUDGET = "0.03";
    /** About ten calls' reservations fit in the budget at once: the doomed instance's five, and some of these. */
    private static final int DOOMED_RUNS = 5;
    private static final int SURVIVOR_RUNS = 8;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void theHoldsOfAKilledInstanceAreReleasedOnceItsRunsAreEndedElsewhere() throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(3, 1000, 300).pausing(Duration.ofMillis(400))) {
            Map<String, String> env = new HashMap<>(BudgetRunsTest.llm(model, BUDGET));
            env.put("PARLEY_DATABASE_URL", TestDatabases.freshPostgresSchema());
            env.put("PARLEY_JWT_SECRET", TestApp.SECRET);
            env.put("PARLEY_DEV_LOGIN", "true");
            env.put("PARLEY_RUN_LEASE", "3s");
            env.put("PARLEY_RUN_MAX_LOG_DELAY", "0");
            env.put("PARLEY_WS_RATE_LIMIT", "1000");
            env.put("PARLEY_WS_RATE_BURST", "1000");
            try (ServerProcess doomed = ServerProcess.start(Files.createTempDirectory("parley-budget-a"), env);
                 ServerProcess survivor = ServerProcess.start(Files.createTempDirectory("parley-budget-b"), env)) {
                assertThat(doomed.awaitReady()).as("log: %s", doomed.log()).isTrue();
                assertThat(survivor.awaitReady()).as("log: %s", survivor.log()).isTrue();
                String token = post(survivor.uri("/auth/dev/login"), "{\"email\":\"spender@example.com\"}", null)
                        .path("access_token").asText();
                SocketClient onDoomed = socket(doomed, token);
                SocketClient onSurvivor = socket(survivor, token);
                Set<String> doomedRuns = startRuns(onDoomed, "doomed", DOOMED_RUNS);
                Set<String> survivorRuns = startRuns(onSurvivor, "survivor", SURVIVOR_RUNS);
                assertThat(doomedRuns).as("the doomed instance must hold runs when it dies").isNotEmpty();
                assertThat(survivorRuns).isNotEmpty();

                // Mid-run: the doomed instance's runs have made a call and hold reservations for the next.
                onDoomed.await("cost_updated");
                assertThat(new BigDecimal(get(survivor.uri("/api/budget"), token).path("reserved_usd").asText()))
                        .isPositive();
                doomed.kill();

                for (String runId : survivorRuns) {
                    JsonNode end = awaitEnd(onSurvivor, runId);
                    assertThat(end.path("type").asText()).isEqualTo("agent_completed");
                    assertThat(end.path("data").path("status").asText()).isIn("completed", "budget_exhausted");
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                JsonNode budget = get(survivor.uri("/api/budget"), token);
                while (new BigDecimal(budget.path("reserved_usd").asText()).signum() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                    budget = get(survivor.uri("/api/budget"), token);
                }
                assertThat(new BigDecimal(budget.path("reserved_usd").asText())).as(budget.toString())
                        .isEqualByComparingTo("0");
                assertThat(new BigDecimal(budget.path("spent_usd").asText())).isPositive()
                        .isLessThanOrEqualTo(new BigDecimal(BUDGET));
                for (String runId : doomedRuns) {
                    assertThat(get(survivor.uri("/api/runs/" + runId), token).path("status").asText())
                            .isIn("failed", "completed", "budget_exhausted");
                }
                assertThat(survivor.log()).contains("hold(s) of runs that ended elsewhere");
                onSurvivor.close();
            }
        }
    }

    private SocketClient socket(ServerProcess server, String token) {
        SocketClient socket = SocketClient.connect(http, server.wsUri("/ws"), Map.of("Authorization", "Bearer " + token),
                List.of());
        socket.await("connection_established");
        return socket;
    }

    /** Starts runs over the socket and returns the ids of those the budget admitted. */
    private static Set<String> startRuns(SocketClient socket, String tag, int count) {
        for (int i = 0; i < count; i++) {
            socket.send("start_agent", Json.object().put("user_request", "Where does my money go, " + tag + " " + i),
                    "m" + i);
        }
        Set<String> runs = new HashSet<>();
        int answers = 0;
        while (answers < count) {
            JsonNode frame = socket.next(Duration.ofSeconds(20));
            String type = frame.path("type").asText();
            if (type.equals("agent_started")
                    && frame.path("data").path("user_request").asText().contains(", " + tag + " ")) {
                runs.add(frame.path("run_id").asText());
                answers++;
            } else if (type.equals("error")) {
                assertThat(frame.path("data").path("error").path("code").asText()).isEqualTo("budget_exceeded");
                answers++;
            }
        }
        return runs;
    }

    private static JsonNode awaitEnd(SocketClient socket, String runId) {
        List<JsonNode> ends = new ArrayList<>();
        for (JsonNode frame : socket.history()) {
            if (runId.equals(frame.path("run_id").asText(null)) && frame.path("type").asText().startsWith("agent_")
                    && !frame.path("type").asText().equals("agent_started")
                    && !frame.path("type").asText().equals("agent_thinking")) {
                ends.add(frame);
            }
        }
        return ends.isEmpty() ? socket.runEvents(runId).getLast() : ends.getLast();
    }

    private JsonNode post(URI uri, String body, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return Json.parse(http.send(request.build(), HttpResponse.BodyHandlers.ofString()).body());
    }

    private JsonNode get(URI uri, String token) throws Exception {
        return Json.parse(http.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString()).body());
    }
}
