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

/** /api/threads and /api/runs over real HTTP: shapes, paging, validation, and deleting a thread with a live run. */
class ThreadRoutesTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_SHUTDOWN_GRACE", "0"), Clock.systemUTC(), new ScriptedAgent(Duration.ofMillis(20)));
    }

    @Test
    void threadsAreCreatedReadRenamedListedAndDeleted() {
        TestUsers.User user = TestUsers.register(app);
        String token = user.accessToken();
        TestApp.Response created = app.post("/api/threads", "{\"title\":\"Cloud costs\"}", token);
        assertThat(created.status()).isEqualTo(201);
        JsonNode thread = created.json();
        String id = thread.path("id").asText();
        assertThat(thread.path("title").asText()).isEqualTo("Cloud costs");
        assertThat(thread.path("message_count").asInt()).isZero();
        assertThat(thread.path("created_at").asText()).isNotBlank();
        assertThat(thread.path("updated_at").asText()).isNotBlank();

        assertThat(app.post("/api/threads", "", token).json().path("title").asText()).isEqualTo("New conversation");
        assertThat(app.get("/api/threads/" + id, token).json()).isEqualTo(thread);

        TestApp.Response renamed = app.patch("/api/threads/" + id, "{\"title\":\"Renamed\"}", token);
        assertThat(renamed.status()).isEqualTo(200);
        assertThat(renamed.json().path("title").asText()).isEqualTo("Renamed");

        JsonNode list = app.get("/api/threads", token).json();
        assertThat(list.path("total").asInt()).isEqualTo(2);
        assertThat(list.path("threads").get(0).path("id").asText()).isEqualTo(id);
        assertThat(app.get("/api/threads?limit=1&offset=1", token).json().path("threads")).hasSize(1);

        assertThat(app.delete("/api/threads/" + id, token).status()).isEqualTo(204);
        assertThat(app.get("/api/threads/" + id, token).status()).isEqualTo(404);
        assertThat(app.delete("/api/threads/" + id, token).status()).isEqualTo(404);
    }

    @Test
    void badInputIs400AndNoTokenIs401() {
        TestUsers.User user = TestUsers.register(app);
        String token = user.accessToken();
        for (String query : new String[] {"limit=0", "limit=101", "limit=x", "offset=-1"}) {
            TestApp.Response response = app.get("/api/threads?" + query, token);
            assertThat(response.status()).as(query).isEqualTo(400);
            assertThat(response.json().path("error").path("code").asText()).isEqualTo("invalid_request");
        }
        assertThat(app.get("/api/threads?limit=100", token).status()).isEqualTo(200);
        String id = app.post("/api/threads", "{}", token).json().path("id").asText();
        assertThat(app.patch("/api/threads/" + id, "{}", token).status()).isEqualTo(400);
        assertThat(app.patch("/api/threads/" + id, "{\"title\":\"\"}", token).status()).isEqualTo(400);
        assertThat(app.patch("/api/threads/" + id, "{\"title\":7}", token).status()).isEqualTo(400);
        assertThat(app.patch("/api/threads/" + id, "{\"title\":\"" + "t".repeat(201) + "\"}", token).status()).isEqualTo(400);
        assertThat(app.post("/api/threads", "{not json", token).json().path("error").path("code").asText())
                .isEqualTo("invalid_json");
        assertThat(app.get("/api/threads/" + id + "/messages?before=nope", token).status()).isEqualTo(400);
        assertThat(app.get("/api/runs/x/events?after_seq=-1", token).status()).isEqualTo(400);
        for (String path : new String[] {"/api/threads", "/api/threads/" + id, "/api/threads/" + id + "/messages",
                "/api/runs/" + id, "/api/runs/" + id + "/events"}) {
            TestApp.Response response = app.get(path, null);
            assertThat(response.status()).as(path).isEqualTo(401);
            assertThat(response.json().path("error").path("code").asText()).isEqualTo("unauthorized");
        }
    }

    @Test
    void deletingAThreadWithARunningRunStopsTheRunFirst() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.next();
            socket.send("start_agent", payload("user_request", "hang"));
            JsonNode started = socket.await("agent_started");
            String threadId = started.path("thread_id").asText();
            String runId = started.path("run_id").asText();
            socket.await("partial_result");

            assertThat(app.delete("/api/threads/" + threadId, user.accessToken()).status()).isEqualTo(204);
            JsonNode completed = socket.await("agent_completed");
            assertThat(completed.path("run_id").asText()).isEqualTo(runId);
            assertThat(completed.path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(app.get("/api/threads/" + threadId, user.accessToken()).status()).isEqualTo(404);
            assertThat(app.get("/api/runs/" + runId, user.accessToken()).status()).isEqualTo(404);
        }
    }

    @Test
    void runRoutesShowStateEventsAndMetricsCountThem() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.next();
            socket.send("start_agent", payload("user_request", "deltas 2"));
            String runId = socket.await("agent_started").path("run_id").asText();
            socket.runEvents(runId);
            JsonNode run = app.get("/api/runs/" + runId, user.accessToken()).json();
            assertThat(run.path("id").asText()).isEqualTo(runId);
            assertThat(run.path("status").asText()).isEqualTo("completed");
            assertThat(run.path("started_at").asText()).isNotBlank();
            assertThat(run.path("usage").path("input_tokens").asLong()).isEqualTo(12);
            JsonNode events = app.get("/api/runs/" + runId + "/events", user.accessToken()).json();
            assertThat(events.path("complete").asBoolean()).isTrue();
            assertThat(events.path("events")).hasSize(7);
            assertThat(events.path("events").get(0).path("seq").asLong()).isEqualTo(1);

            String metrics = app.get("/metrics", null).body();
            assertThat(metrics).contains("parley_ws_open_sockets").contains("parley_runs_started_total")
                    .contains("parley_runs_completed_total").contains("parley_ws_events_sent_total{type=\"agent_started\"}")
                    .contains("parley_runs_active");
            JsonNode ready = app.get("/health/ready", null).json();
            assertThat(ready.path("checks").path("fanout").asText()).isEqualTo("local");
        }
    }
}
