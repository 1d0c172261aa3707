package dev.parley.server.gateway;

import static dev.parley.server.gateway.RunEventsTest.payload;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ParleySocket;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.RawSocket;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Runs and sockets at the edges of their lives: timeout, event retention, and the server's graceful shutdown. */
class RunLifecycleTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private TestApp app;

    @Test
    void aRunOverItsTimeoutIsStoppedWithAgentErrorTimeout() {
        app = servers.start(Map.of("PARLEY_RUN_TIMEOUT", "1s"), Clock.systemUTC(), new ScriptedAgent());
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "hang"));
            String runId = socket.await("agent_started").path("run_id").asText();
            JsonNode error = socket.await("agent_error");
            assertThat(error.path("run_id").asText()).isEqualTo(runId);
            assertThat(error.path("data").path("error").path("code").asText()).isEqualTo("timeout");
            assertThat(error.path("data").path("retryable").asBoolean()).isTrue();
            JsonNode run = app.get("/api/runs/" + runId, user.accessToken()).json();
            assertThat(run.path("status").asText()).isEqualTo("failed");
            assertThat(run.path("error_code").asText()).isEqualTo("timeout");
        }
    }

    @Test
    void eventsPastRetentionAreGoneForResumeAndHttp() {
        MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
        app = servers.start(Map.of("PARLEY_RUN_EVENT_RETENTION", "10m", "PARLEY_HEARTBEAT_INTERVAL", "10m"), clock,
                new ScriptedAgent());
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "deltas 1"));
            String runId = socket.await("agent_started").path("run_id").asText();
            socket.runEvents(runId);

            clock.advance(Duration.ofMinutes(9));
            assertThat(app.get("/api/runs/" + runId + "/events", user.accessToken()).status()).isEqualTo(200);
            clock.advance(Duration.ofMinutes(2));
            TestApp.Response expired = app.get("/api/runs/" + runId + "/events", user.accessToken());
            assertThat(expired.status()).isEqualTo(410);
            assertThat(expired.json().path("error").path("code").asText()).isEqualTo("events_expired");
            socket.send("resume", payload("run_id", runId));
            JsonNode failed = socket.await("resume_failed");
            assertThat(failed.path("data").path("reason").asText()).isEqualTo("events_expired");

            app.app().runs().maintain();
            // The log is purged; the run itself and its messages stay.
            assertThat(app.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText()).isEqualTo("completed");
        }
    }

    @Test
    void shutdownSendsServerShutdownThenCloses1012AndEndsRunsInFlightAsRetryable() {
        app = servers.start(Map.of("PARLEY_SHUTDOWN_GRACE", "200ms"), Clock.systemUTC(), new ScriptedAgent());
        TestUsers.User user = TestUsers.register(app);
        SocketClient watcher = connected(app, user);
        SocketClient socket = connected(app, user);
        socket.send("start_agent", payload("user_request", "hang"));
        String runId = socket.await("agent_started").path("run_id").asText();
        String token = user.accessToken();
        TestApp closing = app;
        app = null;
        closing.close();

        JsonNode shutdown = socket.await("server_shutdown");
        assertThat(shutdown.path("data").path("reconnect_after_ms").asLong()).isBetween(1000L, 3000L);
        ParleySocket.Close close = socket.awaitClose();
        assertThat(close.code()).isEqualTo(1012);
        assertThat(close.reason()).isEqualTo("service_restart");
        assertThat(watcher.await("server_shutdown").path("type").asText()).isEqualTo("server_shutdown");
        assertThat(watcher.awaitClose().code()).isEqualTo(1012);

        // After a restart on the same data, the run is over: failed, retryable, with its last event in the log.
        app = servers.restart(closing, Map.of());
        JsonNode run = app.get("/api/runs/" + runId, token).json();
        assertThat(run.path("status").asText()).isEqualTo("failed");
        assertThat(run.path("error_code").asText()).isEqualTo("service_restart");
        JsonNode last = app.get("/api/runs/" + runId + "/events", token).json().path("events");
        JsonNode error = last.get(last.size() - 1);
        assertThat(error.path("type").asText()).isEqualTo("agent_error");
        assertThat(error.path("data").path("retryable").asBoolean()).isTrue();
    }

    @Test
    void aDrainingServerRefusesNewSockets() throws Exception {
        app = servers.start(Map.of("PARLEY_SHUTDOWN_GRACE", "2s"), Clock.systemUTC(), new ScriptedAgent());
        TestUsers.User user = TestUsers.register(app);
        SocketClient socket = connected(app, user);
        socket.send("start_agent", payload("user_request", "hang"));
        socket.await("agent_started");
        TestApp closing = app;
        app = null;
        Thread closer = Thread.ofVirtual().start(closing::close);
        socket.await("server_shutdown");
        try (RawSocket refused = RawSocket.upgrade(closing.app().port(), "/ws",
                Map.of("Authorization", "Bearer " + user.accessToken()))) {
            SocketHandshakeTest.assertRefused(refused, 503, "not_ready");
        }
        closer.join(Duration.ofSeconds(15));
    }
}
