package dev.parley.server.scale;

import static dev.parley.server.scale.Cluster.start;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestUsers;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A run whose instance stops renewing its lease (it died) is ended by another instance: {@code agent_error}
 * {@code service_restart} with {@code retryable: true}, appended to the run's log after its last event and fanned
 * out, so every follower on every instance learns it, and the thread is free for the next message.
 */
class AbandonedRunTest {
    @Test
    void anotherInstanceEndsTheRunOfAnInstanceWhoseLeaseRanOut() {
        MutableClock clockB = new MutableClock(Instant.now());
        try (Cluster cluster = Cluster.start(Map.of("PARLEY_RUN_LEASE", "3s"), new ScriptedAgent(), Clock.systemUTC(),
                clockB)) {
            TestUsers.User user = TestUsers.register(cluster.a);
            try (SocketClient onA = connected(cluster.a, user); SocketClient onB = connected(cluster.b, user)) {
                JsonNode started = start(onA, "hang");
                String runId = started.path("run_id").asText();
                onB.await("partial_result");

                // As b sees it, a has not renewed its lease for longer than the lease: a is gone.
                clockB.advance(Duration.ofSeconds(30));
                cluster.b.app().runs().maintain();

                for (SocketClient follower : List.of(onA, onB)) {
                    List<JsonNode> events = follower.runEvents(runId);
                    JsonNode last = events.getLast();
                    assertThat(last.path("type").asText()).isEqualTo("agent_error");
                    assertThat(last.path("data").path("retryable").asBoolean()).isTrue();
                    assertThat(last.path("data").path("error").path("code").asText()).isEqualTo("service_restart");
                    assertThat(last.path("seq").asLong()).isEqualTo(5);
                }
                assertThat(cluster.b.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText())
                        .isEqualTo("failed");
                JsonNode log = cluster.a.get("/api/runs/" + runId + "/events", user.accessToken()).json();
                assertThat(log.path("complete").asBoolean()).isTrue();
                assertThat(log.path("events")).hasSize(5);
            }
        }
    }
}
