package dev.parley.server.budget;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestRedis;
import dev.parley.server.testing.TestUsers;
import java.math.BigDecimal;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The budget's promise under load, across two instances sharing PostgreSQL: 100 runs started at once from 10 sockets
 * of one user, spread over both instances, against a local OpenAI-wire server that reports the same usage on every
 * call (3 calls a run). Whatever the interleaving, what the runs cost stays within the limit, refused starts store
 * nothing, and the ledger ends with exactly what the runs reported spent and nothing held. Once with Redis shared, once
 * with Redis unreachable for the whole test.
 */
class BudgetClusterTest {
    private static final int SOCKETS = 10;
    private static final int RUNS_PER_SOCKET = 10;
    private static final String BUDGET = "0.05";

    @Test
    void concurrentRunsOnTwoInstancesNeverSpendPastTheLimit() throws Exception {
        URI redisUrl = TestRedis.url();
        try (TcpProxy redis = TcpProxy.to(redisUrl.getHost(), redisUrl.getPort() < 0 ? 6379 : redisUrl.getPort())) {
            runAgainstTwoInstances(redis);
        }
    }

    @Test
    void theLimitHoldsWithRedisDownForTheWholeTest() throws Exception {
        URI redisUrl = TestRedis.url();
        try (TcpProxy redis = TcpProxy.to(redisUrl.getHost(), redisUrl.getPort() < 0 ? 6379 : redisUrl.getPort())) {
            redis.cut();
            runAgainstTwoInstances(redis);
        }
    }

    private void runAgainstTwoInstances(TcpProxy redis) throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(3, 1000, 300)) {
            Map<String, String> env = new HashMap<>(BudgetRunsTest.llm(model, BUDGET));
            env.put("PARLEY_DATABASE_URL", TestDatabases.freshPostgresSchema());
            env.put("PARLEY_REDIS_URL", "redis://127.0.0.1:" + redis.port());
            env.put("PARLEY_REDIS_PREFIX", TestRedis.freshPrefix());
            env.put("PARLEY_SHUTDOWN_GRACE", "0");
            env.put("PARLEY_RUN_MAX_LOG_DELAY", "0"); // refusals here are the budget's alone
            try (TestApp a = TestApp.start(env); TestApp b = TestApp.start(env)) {
                TestUsers.User user = TestUsers.register(a);
                List<SocketClient> sockets = new ArrayList<>();
                try {
                    for (int i = 0; i < SOCKETS; i++) {
                        sockets.add(connected(i % 2 == 0 ? a : b, user));
                    }
                    for (int s = 0; s < SOCKETS; s++) {
                        for (int r = 0; r < RUNS_PER_SOCKET; r++) {
                            sockets.get(s).send("start_agent", Json.object().put("user_request", request(s, r)),
                                    "m" + r);
                        }
                    }
                    BigDecimal spent = BigDecimal.ZERO;
                    int started = 0;
                    int refused = 0;
                    int exhausted = 0;
                    for (int s = 0; s < SOCKETS; s++) {
                        SocketClient socket = sockets.get(s);
                        String mine = request(s, 0).substring(0, request(s, 0).lastIndexOf(' ') + 1);
                        List<String> runs = new ArrayList<>();
                        int answers = 0;
                        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                        while (answers < RUNS_PER_SOCKET) {
                            assertThat(System.nanoTime()).as(socket.summary()).isLessThan(deadline);
                            JsonNode frame = socket.next(Duration.ofSeconds(30));
                            switch (frame.path("type").asText()) {
                                case "agent_started" -> {
                                    // Every socket of the user sees every run; this one counts the runs it started.
                                    if (frame.path("data").path("user_request").asText().startsWith(mine)) {
                                        runs.add(frame.path("run_id").asText());
                                        answers++;
                                    }
                                }
                                case "error" -> {
                                    assertThat(frame.path("data").path("error").path("code").asText())
                                            .as(frame.toString()).isEqualTo("budget_exceeded");
                                    answers++;
                                    refused++;
                                }
                                default -> {
                                }
                            }
                        }
                        started += runs.size();
                        for (String runId : runs) {
                            JsonNode end = lastEvent(socket, runId, a, user);
                            assertThat(end.path("type").asText()).as(end.toString()).isEqualTo("agent_completed");
                            String status = end.path("data").path("status").asText();
                            assertThat(status).isIn("completed", "budget_exhausted");
                            if (status.equals("budget_exhausted")) {
                                exhausted++;
                            }
                            spent = spent.add(new BigDecimal(end.path("data").path("usage").path("cost_usd").asText()));
                        }
                    }

                    assertThat(started + refused).isEqualTo(SOCKETS * RUNS_PER_SOCKET);
                    assertThat(started).isPositive();
                    assertThat(refused).as("the limit must turn some starts away for the test to mean anything")
                            .isPositive();
                    assertThat(spent).isLessThanOrEqualTo(new BigDecimal(BUDGET));
                    // Refused starts stored nothing: one thread per started run, no more.
                    assertThat(a.get("/api/threads?limit=100", user.accessToken()).json().path("total").asInt())
                            .isEqualTo(started);
                    JsonNode budget = b.get("/api/budget", user.accessToken()).json();
                    assertThat(new BigDecimal(budget.path("spent_usd").asText())).isEqualByComparingTo(spent);
                    assertThat(new BigDecimal(budget.path("reserved_usd").asText())).isEqualByComparingTo("0");
                    assertThat(new BigDecimal(budget.path("remaining_usd").asText()))
                            .isEqualByComparingTo(new BigDecimal(BUDGET).subtract(spent));
                    System.out.printf("budget %s: %d runs started (%d budget_exhausted), %d refused, %s spent%n",
                            BUDGET, started, exhausted, refused, spent.toPlainString());
                } finally {
                    sockets.forEach(SocketClient::close);
                }
            }
        }
    }

    private static String request(int socket, int run) {
        return "Where does my money go? socket " + socket + " run " + run;
    }

    /** The run's last event as its socket saw it, or from its log (a frame that went past the socket's wait). */
    private static JsonNode lastEvent(SocketClient socket, String runId, TestApp app, TestUsers.User user) {
        List<JsonNode> seen = socket.history().stream()
                .filter(frame -> runId.equals(frame.path("run_id").asText(null)))
                .filter(frame -> frame.path("type").asText().startsWith("agent_c")
                        || frame.path("type").asText().equals("agent_error"))
                .toList();
        if (!seen.isEmpty()) {
            return seen.getLast();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode log = app.get("/api/runs/" + runId + "/events", user.accessToken()).json();
            if (log.path("complete").asBoolean()) {
                JsonNode events = log.path("events");
                return events.get(events.size() - 1);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("run " + runId + " did not end");
    }
}
