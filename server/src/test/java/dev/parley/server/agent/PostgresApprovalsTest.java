package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.List;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestRedis;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
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
        second = TestApp.start(settings(shared), clock);
    }

    @AfterAll
    static void stopSecond() {
        if (second != null) {
            second.close();
        }
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

    @Override
    TestApp secondInstance() {
        return second;
    }
}
