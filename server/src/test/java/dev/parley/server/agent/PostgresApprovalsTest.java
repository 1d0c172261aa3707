package dev.parley.server.agent;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestRedis;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Approvals on PostgreSQL with two instances sharing it (and Redis): the runs are on the first, and the concurrent
 * decisions of the race reach the second, whose conditional update the first instance's waiting run then reads.
 */
class PostgresApprovalsTest extends ApprovalsContract {
    private static TestApp second;
    private static Map<String, String> shared;

    @BeforeAll
    static void start() throws Exception {
        shared = Map.of(
                "PARLEY_DATABASE_URL", TestDatabases.freshPostgresSchema(),
                "PARLEY_REDIS_URL", TestRedis.url().toString(),
                "PARLEY_REDIS_PREFIX", TestRedis.freshPrefix());
        startApp(shared);
        second = servers.start(settings(shared), clock);
    }

    @Test
    void anInstanceThatEndsTheRunOfADeadOneSettlesItsApprovalAndTheCallNeverRuns() {
        MutableClock laterClock = new MutableClock(clock.instant());
        TestUsers.User user = TestUsers.register(app);
        try (TestApp survivor = TestApp.start(settings(shared), laterClock);
             SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "orphan");
            String runId = required.path("run_id").asText();
            String approvalId = required.path("data").path("approval_id").asText();

            // As the survivor sees it, the run's instance has not renewed its lease for a minute: it is gone.
            laterClock.advance(Duration.ofMinutes(1));
            survivor.app().runs().maintain();

            List<JsonNode> rest = socket.runEvents(runId);
            assertThat(rest).extracting(e -> e.path("type").asText()).containsSubsequence("approval_resolved",
                    "agent_error");
            assertThat(rest.getFirst().path("data").path("decision").asText()).isEqualTo("cancelled");
            assertThat(rest.getLast().path("data").path("error").path("code").asText()).isEqualTo("service_restart");
            TestApp.Response late = decide(survivor, user, approvalId, "approve");
            assertThat(late.status()).isEqualTo(409);
            assertThat(late.json().path("error").path("code").asText()).isEqualTo("approval_resolved");
        }
        assertThat(writeCalls("orphan")).isZero();
    }

    @Test
    void bothInstancesSocketsSeeTheApprovalAndTheFirstDecisionFromEitherWins() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient onFirst = connected(app, user); SocketClient onSecond = connected(second, user)) {
            JsonNode required = startWaiting(onFirst, "twice");
            String runId = required.path("run_id").asText();
            String approvalId = required.path("data").path("approval_id").asText();
            long requiredSeq = required.path("seq").asLong();
            JsonNode seenOnSecond = onSecond.await("approval_required");
            assertThat(seenOnSecond.path("run_id").asText()).isEqualTo(runId);
            assertThat(seenOnSecond.path("seq").asLong()).isEqualTo(requiredSeq);
            assertThat(seenOnSecond.path("data").path("approval_id").asText()).isEqualTo(approvalId);
            assertThat(seenOnSecond.path("data")).isEqualTo(required.path("data"));
            assertThat(writeCalls("twice")).isZero();

            llm.then(OpenAiScript.answer("Noted on both."));
            onSecond.send("approve_tool", Json.object().put("approval_id", approvalId).put("decision", "approve"),
                    "second-1");
            for (SocketClient socket : List.of(onFirst, onSecond)) {
                List<JsonNode> rest = bySeq(socket.runEvents(runId));
                assertThat(types(rest)).startsWith("approval_resolved", "tool_executing", "tool_completed");
                assertThat(rest.get(0).path("data").path("approval_id").asText()).isEqualTo(approvalId);
                assertThat(rest.get(0).path("data").path("decision").asText()).isEqualTo("approved");
                assertThat(rest.get(2).path("data").path("status").asText()).isEqualTo("success");
                assertThat(rest.get(2).path("data").path("result").path("text").asText()).isEqualTo("noted twice");
                assertThat(rest.getLast().path("type").asText()).isEqualTo("agent_completed");
                assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
                for (int i = 0; i < rest.size(); i++) {
                    assertThat(rest.get(i).path("seq").asLong()).isEqualTo(requiredSeq + 1 + i);
                }
            }
            assertThat(onSecond.history()).noneMatch(frame -> frame.path("type").asText().equals("error"));

            onFirst.send("approve_tool", Json.object().put("approval_id", approvalId).put("decision", "approve"),
                    "first-late");
            JsonNode error = onFirst.await("error");
            assertThat(error.path("data").path("error").path("code").asText()).isEqualTo("approval_resolved");
            assertThat(error.path("data").path("in_reply_to").asText()).isEqualTo("first-late");
            TestApp.Response late = decide(second, user, approvalId, "reject");
            assertThat(late.status()).isEqualTo(409);
            assertThat(late.json().path("error").path("code").asText()).isEqualTo("approval_resolved");
        }
        assertThat(writeCalls("twice")).isEqualTo(1);
    }

    /** A socket's frames of a run as the client keeps them: one per seq (a copy delivered twice is dropped). */
    private static List<JsonNode> bySeq(List<JsonNode> events) {
        Map<Long, JsonNode> kept = new TreeMap<>();
        for (JsonNode event : events) {
            kept.putIfAbsent(event.path("seq").asLong(), event);
        }
        return List.copyOf(kept.values());
    }

    @Override
    TestApp secondInstance() {
        return second;
    }
}
