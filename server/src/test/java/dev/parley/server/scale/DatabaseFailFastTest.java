package dev.parley.server.scale;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL cut (connections refused) or gone silent (accepted, never answered) under a running instance: readiness
 * turns 503 within a second, every start_agent and request is answered at once with a retryable
 * {@code upstream_unavailable}, and within two seconds of the restore everything works again, without a restart.
 */
class DatabaseFailFastTest {
    @Test
    void aRefusingDatabaseIsAnsweredAtOnce() throws Exception {
        outage(TcpProxy::cut);
    }

    @Test
    void aSilentDatabaseIsAnsweredAtOnce() throws Exception {
        outage(TcpProxy::blackHole);
    }

    private static void outage(Consumer<TcpProxy> cut) throws Exception {
        try (ProxiedPostgres database = ProxiedPostgres.start();
             TestApp app = TestApp.start(database.env("PARLEY_WS_RATE_LIMIT", "1000", "PARLEY_WS_RATE_BURST", "1000"))) {
            TcpProxy proxy = database.proxy();
            TestUsers.User user = TestUsers.register(app);
            try (SocketClient socket = connected(app, user)) {
                JsonNode first = Cluster.start(socket, "How much did we spend?");
                socket.runEvents(first.path("run_id").asText());

                long cutAt = System.nanoTime();
                cut.accept(proxy);
                while (app.get("/health/ready", null).status() != 503) {
                    Thread.sleep(20);
                }
                Duration toNotReady = Duration.ofNanos(System.nanoTime() - cutAt);
                assertThat(toNotReady).isLessThan(Duration.ofSeconds(1));

                List<Duration> answers = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    long sent = System.nanoTime();
                    socket.send("start_agent", Cluster.payload("user_request", "during the outage " + i), "down-" + i);
                    JsonNode refused = socket.await("error");
                    answers.add(Duration.ofNanos(System.nanoTime() - sent));
                    assertThat(refused.path("data").path("in_reply_to").asText()).isEqualTo("down-" + i);
                    JsonNode error = refused.path("data").path("error");
                    assertThat(error.path("code").asText()).isEqualTo("upstream_unavailable");
                    assertThat(error.path("retry_after_ms").asLong()).isPositive();
                }
                assertThat(answers).allMatch(wait -> wait.compareTo(Duration.ofSeconds(1)) < 0);
                long sent = System.nanoTime();
                TestApp.Response create = app.post("/api/threads", "{}", user.accessToken());
                assertThat(Duration.ofNanos(System.nanoTime() - sent)).isLessThan(Duration.ofSeconds(1));
                assertThat(create.status()).isEqualTo(503);
                assertThat(create.json().path("error").path("code").asText()).isEqualTo("upstream_unavailable");
                assertThat(create.header("Retry-After")).isEqualTo("1");
                socket.send("{\"type\":\"ping\",\"payload\":{\"timestamp\":7}}");
                assertThat(socket.await("pong").path("data").path("timestamp").asLong()).isEqualTo(7);

                long restoredAt = System.nanoTime();
                proxy.restore();
                while (app.get("/health/ready", null).status() != 200) {
                    Thread.sleep(20);
                }
                assertThat(Duration.ofNanos(System.nanoTime() - restoredAt)).isLessThan(Duration.ofSeconds(2));
                JsonNode second = Cluster.start(socket, "And now?");
                assertThat(socket.runEvents(second.path("run_id").asText()).getLast().path("type").asText())
                        .isEqualTo("agent_completed");
            }
        }
    }
}
