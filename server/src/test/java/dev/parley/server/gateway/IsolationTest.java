package dev.parley.server.gateway;

import static dev.parley.server.gateway.RunEventsTest.payload;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A second user tries every route and message on the first user's thread and run: each answers as if the ids did
 * not exist, nothing of the first user's changes, and none of the first user's events reach the second user.
 */
class IsolationTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;
    private static TestUsers.User alice;
    private static TestUsers.User mallory;
    private static String threadId;
    private static String finishedRunId;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_SHUTDOWN_GRACE", "0"), Clock.systemUTC(), new ScriptedAgent(Duration.ofMillis(20)));
        alice = TestUsers.register(app);
        mallory = TestUsers.register(app);
        try (SocketClient socket = SocketClient.open(app, alice.accessToken())) {
            socket.next();
            socket.send("start_agent", payload("user_request", "deltas 2"));
            JsonNode started = socket.await("agent_started");
            threadId = started.path("thread_id").asText();
            finishedRunId = started.path("run_id").asText();
            socket.runEvents(finishedRunId);
        }
    }

    private static void assertNotFound(TestApp.Response response, String code) {
        assertThat(response.status()).as(response.body()).isEqualTo(404);
        assertThat(response.json().path("error").path("code").asText()).isEqualTo(code);
    }

    @Test
    void everyThreadRouteAnswers404ForSomeoneElsesThread() {
        String token = mallory.accessToken();
        assertNotFound(app.get("/api/threads/" + threadId, token), "thread_not_found");
        assertNotFound(app.patch("/api/threads/" + threadId, "{\"title\":\"mine now\"}", token), "thread_not_found");
        assertNotFound(app.get("/api/threads/" + threadId + "/messages", token), "thread_not_found");
        assertNotFound(app.delete("/api/threads/" + threadId, token), "thread_not_found");
        assertThat(app.get("/api/threads", token).json().path("total").asInt()).isZero();
        // And it is all still there for its owner.
        JsonNode thread = app.get("/api/threads/" + threadId, alice.accessToken()).json();
        assertThat(thread.path("title").asText()).isEqualTo("deltas 2");
        assertThat(thread.path("message_count").asInt()).isGreaterThanOrEqualTo(2);
        // A foreign thread looks exactly like a missing one.
        TestApp.Response missing = app.get("/api/threads/00000000-0000-0000-0000-000000000000", token);
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.json().path("error").path("message").asText())
                .isEqualTo(app.get("/api/threads/" + threadId, token).json().path("error").path("message").asText());
    }

    @Test
    void everyRunRouteAnswers404ForSomeoneElsesRun() {
        String token = mallory.accessToken();
        assertNotFound(app.get("/api/runs/" + finishedRunId, token), "run_not_found");
        assertNotFound(app.get("/api/runs/" + finishedRunId + "/events", token), "run_not_found");
        assertNotFound(app.post("/api/runs/" + finishedRunId + "/cancel", "", token), "run_not_found");
    }

    @Test
    void everySocketMessageOnSomeoneElsesIdsIsRefusedAndNoEventLeaks() {
        try (SocketClient owner = SocketClient.open(app, alice.accessToken());
             SocketClient intruder = SocketClient.open(app, mallory.accessToken())) {
            owner.next();
            intruder.next();
            owner.send("user_message", payload("content", "hang", "thread_id", threadId));
            String runId = owner.await("agent_started").path("run_id").asText();
            owner.await("partial_result");

            intruder.send("user_message", payload("content", "hijack", "thread_id", threadId), "i1");
            assertThat(intruder.await("error").path("data").path("error").path("code").asText()).isEqualTo("thread_not_found");
            intruder.send("start_agent", payload("user_request", "hijack", "thread_id", threadId), "i2");
            assertThat(intruder.await("error").path("data").path("error").path("code").asText()).isEqualTo("thread_not_found");
            intruder.send("get_thread_history", payload("thread_id", threadId));
            assertThat(intruder.await("error").path("data").path("error").path("code").asText()).isEqualTo("thread_not_found");
            intruder.send("stop_agent", payload("run_id", runId));
            assertThat(intruder.await("error").path("data").path("error").path("code").asText()).isEqualTo("run_not_found");
            intruder.send("resume", payload("run_id", runId));
            JsonNode failed = intruder.await("resume_failed");
            assertThat(failed.path("data").path("reason").asText()).isEqualTo("run_not_found");
            intruder.send("resume", payload("run_id", finishedRunId));
            assertThat(intruder.await("resume_failed").path("data").path("reason").asText()).isEqualTo("run_not_found");
            intruder.send("auth_refresh", payload("token", alice.accessToken()));
            assertThat(intruder.await("error").path("data").path("error").path("code").asText()).isEqualTo("invalid_token");

            // The owner's run was not stopped by any of that; the owner stops it.
            owner.send("stop_agent", payload("run_id", runId));
            assertThat(owner.await("agent_completed").path("data").path("status").asText()).isEqualTo("cancelled");

            // Make sure everything the server sent the intruder has arrived, then look: none of it is the owner's.
            intruder.send("ping", null);
            intruder.await("pong");
            for (JsonNode frame : intruder.history()) {
                assertThat(frame.path("run_id").asText(null)).isNull();
                assertThat(frame.toString()).doesNotContain("partial answer").doesNotContain(threadId + "\",\"run_id");
                if (!frame.path("type").asText().equals("resume_failed")) { // which echoes the id it was asked for
                    assertThat(frame.toString()).doesNotContain(runId);
                }
            }
        }
    }

    @Test
    void messagesOfAThreadAreOnlyTheOwners() {
        JsonNode messages = app.get("/api/threads/" + threadId + "/messages", alice.accessToken()).json().path("messages");
        assertThat(messages.size()).isGreaterThanOrEqualTo(2);
        String messageId = messages.get(1).path("id").asText();
        // Paging with another thread's message id is refused, not answered from that thread.
        String otherThread = app.post("/api/threads", "{\"title\":\"other\"}", alice.accessToken()).json().path("id").asText();
        TestApp.Response crossed = app.get("/api/threads/" + otherThread + "/messages?before=" + messageId, alice.accessToken());
        assertThat(crossed.status()).isEqualTo(400);
    }
}
