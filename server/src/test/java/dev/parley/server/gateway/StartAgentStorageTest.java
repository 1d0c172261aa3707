package dev.parley.server.gateway;

import static dev.parley.server.gateway.RunEventsTest.payload;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a start_agent costs the socket and what a refused one leaves behind, with the embedded database made slow or
 * failing from outside the server (a second connection to its file).
 */
class StartAgentStorageTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of(), Clock.systemUTC(), new ScriptedAgent());
    }

    private static Connection database() throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + app.dataDir().resolve("parley.db"));
    }

    @Test
    void aStartWaitingForTheDatabaseDoesNotHoldBackTheSocketsOtherMessages() throws Exception {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user); Connection lock = database();
             Statement statement = lock.createStatement()) {
            // Another writer holds the database: every commit of the server waits (its busy timeout is 10 s).
            statement.execute("BEGIN IMMEDIATE");
            long sent = System.nanoTime();
            socket.send("start_agent", payload("user_request", "deltas 2"), "start-1");
            socket.send("{\"type\":\"ping\",\"payload\":{\"timestamp\":42}}");
            JsonNode first = socket.next();
            Duration waited = Duration.ofNanos(System.nanoTime() - sent);
            assertThat(first.path("type").asText()).as(first.toString()).isEqualTo("pong");
            assertThat(waited).isLessThan(Duration.ofSeconds(1));
            Thread.sleep(1500);
            statement.execute("COMMIT");
            JsonNode started = socket.await("agent_started");
            assertThat(socket.runEvents(started.path("run_id").asText()).getLast().path("type").asText())
                    .isEqualTo("agent_completed");
        }
    }

    @Test
    void aFirstMessageThatCannotBeStoredLeavesNoThreadBehind() throws Exception {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user); Connection db = database();
             Statement statement = db.createStatement()) {
            // The thread is created, then storing the run fails: the transaction must take the thread back with it.
            statement.execute("CREATE TRIGGER refuse_runs BEFORE INSERT ON runs BEGIN "
                    + "SELECT RAISE(ABORT, 'refused by the test'); END");
            try {
                socket.send("start_agent", payload("user_request", "deltas 2"), "doomed");
                JsonNode error = socket.await("error");
                assertThat(error.path("data").path("in_reply_to").asText()).isEqualTo("doomed");
                assertThat(error.path("data").path("error").path("code").asText()).isIn("internal",
                        "upstream_unavailable");
                assertThat(app.get("/api/threads", user.accessToken()).json().path("threads")).isEmpty();
            } finally {
                statement.execute("DROP TRIGGER refuse_runs");
            }
            // Refusals before any storage leave nothing either.
            socket.send("start_agent", payload("user_request", "x".repeat(16_001)), "too-long");
            assertThat(socket.await("error").path("data").path("error").path("code").asText())
                    .isEqualTo("message_too_large");
            assertThat(app.get("/api/threads", user.accessToken()).json().path("threads")).isEmpty();

            socket.send("start_agent", payload("user_request", "deltas 1"), "fine");
            String runId = socket.await("agent_started").path("run_id").asText();
            socket.runEvents(runId);
            assertThat(app.get("/api/threads", user.accessToken()).json().path("threads")).hasSize(1);
        }
    }
}
