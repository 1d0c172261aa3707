package dev.parley.server.scale;

import static dev.parley.server.scale.Cluster.start;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ParleySocket;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * Redis goes away and comes back under two running instances: readiness says {@code degraded} (HTTP 200) with
 * {@code fanout: "down"}; each instance keeps serving its own sockets live; the other instance's events still arrive
 * (read from the run logs), once each and in order; a sign-out still closes the family's sockets everywhere; and
 * once Redis is back, readiness is {@code ready} again and events cross instances live.
 */
class RedisOutageTest {
    private static final Duration WAIT = Duration.ofSeconds(15);

    private static List<Long> seqs(List<JsonNode> events) {
        return events.stream().map(e -> e.path("seq").asLong()).toList();
    }

    private static List<Long> oneTo(long last) {
        return LongStream.rangeClosed(1, last).boxed().toList();
    }

    private static JsonNode ready(TestApp app) {
        TestApp.Response response = app.get("/health/ready", null);
        return ((com.fasterxml.jackson.databind.node.ObjectNode) response.json()).put("http_status", response.status());
    }

    private static double gauge(TestApp app, String name) {
        return app.get("/metrics", null).body().lines().filter(line -> line.startsWith(name + " "))
                .mapToDouble(line -> Double.parseDouble(line.substring(name.length() + 1))).findFirst()
                .orElseThrow(() -> new AssertionError(name + " is not in /metrics"));
    }

    @Test
    void instancesServeTheirSocketsThroughAnOutageAndCatchUpWhenRedisReturns() {
        try (Cluster cluster = Cluster.start(Map.of("PARLEY_REVOCATION_CACHE_TTL", "60s"),
                new ScriptedAgent(Duration.ofMillis(100)))) {
            TestUsers.User user = TestUsers.register(cluster.a);
            TestUsers.User leaving = TestUsers.login(cluster.a, user);
            try (SocketClient onA = connected(cluster.a, user); SocketClient onB = connected(cluster.b, user);
                 SocketClient leavingOnB = connected(cluster.b, leaving)) {
                assertThat(ready(cluster.a).path("checks").path("fanout").asText()).isEqualTo("up");

                cluster.redis.cut();
                Await.until("both instances report degraded", WAIT, () ->
                        ready(cluster.a).path("status").asText().equals("degraded")
                                && ready(cluster.b).path("status").asText().equals("degraded"));
                JsonNode degraded = ready(cluster.a);
                assertThat(degraded.path("http_status").asInt()).isEqualTo(200);
                assertThat(degraded.path("checks").path("fanout").asText()).isEqualTo("down");
                assertThat(degraded.path("checks").path("database").asText()).isEqualTo("up");

                JsonNode started = start(onA, "slow 8");
                String runId = started.path("run_id").asText();
                List<JsonNode> onOwnInstance = new ArrayList<>(List.of(started));
                onOwnInstance.addAll(onA.runEvents(runId));
                assertThat(seqs(onOwnInstance)).isEqualTo(oneTo(13));
                assertThat(seqs(onB.runEvents(runId))).as("the other instance reads them from the log")
                        .isEqualTo(oneTo(13));
                assertThat(gauge(cluster.b, "parley_fanout_recovered_events")).isGreaterThanOrEqualTo(13);

                assertThat(cluster.a.post("/auth/logout", "{}", leaving.accessToken()).status()).isEqualTo(200);
                ParleySocket.Close close = leavingOnB.awaitClose(Duration.ofSeconds(5));
                assertThat(close.code()).isEqualTo(1008);
                assertThat(close.reason()).isEqualTo("token_revoked");

                cluster.redis.restore();
                Await.until("both instances report ready", WAIT, () ->
                        ready(cluster.a).path("status").asText().equals("ready")
                                && ready(cluster.b).path("status").asText().equals("ready"));
                assertThat(ready(cluster.b).path("checks").path("fanout").asText()).isEqualTo("up");

                JsonNode again = start(onB, "deltas 3");
                String second = again.path("run_id").asText();
                List<JsonNode> onRunInstance = new ArrayList<>(List.of(again));
                onRunInstance.addAll(onB.runEvents(second));
                assertThat(seqs(onRunInstance)).isEqualTo(oneTo(8));
                assertThat(seqs(onA.runEvents(second))).isEqualTo(oneTo(8));
                assertThat(onA.isClosed()).isFalse();
                assertThat(onB.isClosed()).isFalse();
            }
        }
    }
}
