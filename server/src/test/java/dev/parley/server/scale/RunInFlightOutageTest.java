package dev.parley.server.scale;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A run streaming when PostgreSQL goes away ends, once the database is back, with {@code agent_error}
 * {@code upstream_unavailable} after its last stored event: the code says what happened, not {@code service_restart}.
 */
class RunInFlightOutageTest {
    @Test
    void aRunCutOffByTheDatabaseEndsAsUpstreamUnavailableOnceItIsBack() {
        try (ProxiedPostgres database = ProxiedPostgres.start();
             TestApp app = TestApp.start(database.env("PARLEY_RUN_LEASE", "3s"), Clock.systemUTC(),
                     new ScriptedAgent(Duration.ofMillis(100)))) {
            TcpProxy proxy = database.proxy();
            TestUsers.User user = TestUsers.register(app);
            try (SocketClient socket = Cluster.connect(app, user)) {
                JsonNode started = Cluster.start(socket, "slow 40");
                String runId = started.path("run_id").asText();
                socket.await("partial_result");
                proxy.cut();
                Await.until("readiness turns 503", Duration.ofSeconds(2),
                        () -> app.get("/health/ready", null).status() == 503);
                Thread.sleep(2000);
                proxy.restore();

                List<JsonNode> events = socket.runEvents(runId);
                JsonNode last = events.getLast();
                assertThat(last.path("type").asText()).as(events.toString()).isEqualTo("agent_error");
                assertThat(last.path("data").path("error").path("code").asText()).isEqualTo("upstream_unavailable");
                assertThat(last.path("data").path("retryable").asBoolean()).isTrue();
                JsonNode run = app.get("/api/runs/" + runId, user.accessToken()).json();
                assertThat(run.path("status").asText()).isEqualTo("failed");
                // The stored log ends with the same event, numbered right after the last one stored before the cut.
                JsonNode stored = app.get("/api/runs/" + runId + "/events", user.accessToken()).json();
                JsonNode storedEvents = stored.path("events");
                JsonNode storedLast = storedEvents.get(storedEvents.size() - 1);
                assertThat(storedLast.path("type").asText()).isEqualTo("agent_error");
                for (int i = 1; i < storedEvents.size(); i++) {
                    assertThat(storedEvents.get(i).path("seq").asLong())
                            .isEqualTo(storedEvents.get(i - 1).path("seq").asLong() + 1);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
