package dev.parley.server.agent;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.McpTestServer;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Approvals of tool calls, end to end, on one database: a policy of {@code ask} stops the call until a person decides
 * over the socket or HTTP; the decision is stored, the first one wins, expiry and stop settle it, and the approval
 * events are run events like any other. A real MCP server over HTTP, a scripted model provider over HTTP, the real app
 * and real sockets; the subclasses choose the database.
 */
abstract class ApprovalsContract {
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(3);

    @RegisterExtension
    static final Servers servers = new Servers();
    static McpTestServer mcp;
    static ScriptedLlmServer llm;
    static MutableClock clock;
    static TestApp app;

    /** Starts the app on the subclass's database, with {@code extra} settings. */
    static void startApp(Map<String, String> extra) throws Exception {
        mcp = servers.keep(new McpTestServer());
        llm = servers.keep(new ScriptedLlmServer());
        clock = new MutableClock(Instant.now());
        app = servers.start(settings(extra), clock);
        TestUsers.User user = TestUsers.register(app);
        Await.until("the MCP server connected", Duration.ofSeconds(10), () -> app.get("/api/mcp/servers",
                user.accessToken()).json().path("servers").path(0).path("status").asText().equals("connected"));
    }

    static Map<String, String> settings(Map<String, String> extra) {
        Map<String, String> env = llm.settings(Map.of(
                "PARLEY_MCP_SERVERS", "[{\"id\":\"srv\",\"url\":\"" + mcp.url() + "\"}]",
                "PARLEY_TOOL_POLICY", "srv__fail=deny,price_catalog=ask",
                "PARLEY_RUN_TIMEOUT", RUN_TIMEOUT.toSeconds() + "s",
                // The expiry test moves the clock 5 minutes on: sockets must not take that for 3 silent heartbeats.
                "PARLEY_HEARTBEAT_INTERVAL", "10m",
                "PARLEY_SHUTDOWN_GRACE", "0"));
        env.putAll(extra);
        return env;
    }

    /** Starts a run whose model calls srv__write_note with {@code text}; returns the run id at approval_required. */
    static JsonNode startWaiting(SocketClient socket, String text) {
        llm.then(OpenAiScript.toolCall("call_" + text, "srv__write_note", "{\"text\":\"" + text + "\"}"));
        socket.send("start_agent", Json.object().put("user_request", "Write " + text), null);
        socket.await("agent_started");
        return socket.await("approval_required");
    }

    static long writeCalls(String text) {
        return mcp.calls().stream().filter(call -> call.tool().equals("write_note")
                && call.arguments().path("text").asText().equals(text)).count();
    }

    static TestApp.Response decide(TestApp on, TestUsers.User user, String approvalId, String decision) {
        return on.post("/api/approvals/" + approvalId, "{\"decision\":\"" + decision + "\"}", user.accessToken());
    }

    static List<String> types(List<JsonNode> events) {
        return events.stream().map(e -> e.path("type").asText()).toList();
    }

    @Test
    void anAskedCallWaitsForApprovalOverTheSocketThenRunsOnce() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "one");
            String runId = required.path("run_id").asText();
            JsonNode data = required.path("data");
            assertThat(data.path("tool_name").asText()).isEqualTo("srv__write_note");
            assertThat(data.path("tool_call_id").asText()).isEqualTo("call_one");
            assertThat(data.path("source")).isEqualTo(Json.parse("{\"kind\":\"mcp\",\"server\":\"srv\"}"));
            assertThat(data.path("parameters").path("text").asText()).isEqualTo("one");
            assertThat(Instant.parse(data.path("expires_at").asText())).isAfter(clock.instant());
            assertThat(app.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText())
                    .isEqualTo("awaiting_approval");
            assertThat(writeCalls("one")).isZero();

            llm.then(OpenAiScript.answer("Noted."));
            socket.send("approve_tool", Json.object().put("approval_id", data.path("approval_id").asText())
                    .put("decision", "approve"), "d-1");
            List<JsonNode> rest = socket.runEvents(runId);
            assertThat(types(rest)).startsWith("approval_resolved", "tool_executing", "tool_completed");
            assertThat(rest.get(0).path("data").path("decision").asText()).isEqualTo("approved");
            assertThat(rest.get(0).path("data").path("approval_id").asText()).isEqualTo(data.path("approval_id").asText());
            assertThat(rest.get(2).path("data").path("status").asText()).isEqualTo("success");
            assertThat(rest.get(2).path("data").path("result").path("text").asText()).isEqualTo("noted one");
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
            assertThat(rest.get(0).path("seq").asLong()).isEqualTo(required.path("seq").asLong() + 1);
        }
        assertThat(writeCalls("one")).isEqualTo(1);
    }

    @Test
    void aDecisionCannotChangeTheArgumentsOfTheCallItApproves() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "kept");
            String runId = required.path("run_id").asText();
            llm.then(OpenAiScript.answer("Kept."));
            ObjectNode decision = Json.object().put("approval_id", required.path("data").path("approval_id").asText())
                    .put("decision", "approve");
            decision.putObject("parameters").put("text", "swapped");
            decision.putObject("arguments").put("text", "swapped");
            socket.send("approve_tool", decision, "k-1");
            List<JsonNode> rest = socket.runEvents(runId);
            JsonNode executing = rest.stream().filter(event -> event.path("type").asText().equals("tool_executing"))
                    .findFirst().orElseThrow();
            assertThat(executing.path("data").path("parameters").path("text").asText()).isEqualTo("kept");
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
        }
        assertThat(writeCalls("kept")).isEqualTo(1);
        assertThat(writeCalls("swapped")).isZero();
    }

    @Test
    void anApprovalOverHttpAnswersTheDecision() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "two");
            String approvalId = required.path("data").path("approval_id").asText();
            llm.then(OpenAiScript.answer("Noted."));
            TestApp.Response decided = decide(app, user, approvalId, "approve");
            assertThat(decided.status()).isEqualTo(200);
            assertThat(decided.json()).isEqualTo(Json.parse("{\"approval_id\":\"" + approvalId
                    + "\",\"decision\":\"approved\"}"));
            List<JsonNode> rest = socket.runEvents(required.path("run_id").asText());
            assertThat(types(rest)).contains("approval_resolved", "tool_executing", "tool_completed");
            assertThat(decide(app, user, approvalId, "reject").status()).isEqualTo(409);
        }
        assertThat(writeCalls("two")).isEqualTo(1);
    }

    @Test
    void ofTwoConcurrentDecisionsExactlyOneWins() throws Exception {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "race");
            String approvalId = required.path("data").path("approval_id").asText();
            llm.then(OpenAiScript.answer("Done."));
            CountDownLatch go = new CountDownLatch(1);
            List<CompletableFuture<TestApp.Response>> decisions = new ArrayList<>();
            for (String decision : List.of("approve", "reject")) {
                decisions.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return decide(secondInstance(), user, approvalId, decision);
                }));
            }
            go.countDown();
            List<TestApp.Response> answers = decisions.stream().map(CompletableFuture::join).toList();
            assertThat(answers).extracting(TestApp.Response::status).containsExactlyInAnyOrder(200, 409);
            TestApp.Response lost = answers.stream().filter(a -> a.status() == 409).findFirst().orElseThrow();
            assertThat(lost.json().path("error").path("code").asText()).isEqualTo("approval_resolved");
            String won = answers.stream().filter(a -> a.status() == 200).findFirst().orElseThrow().json()
                    .path("decision").asText();
            List<JsonNode> rest = socket.runEvents(required.path("run_id").asText());
            assertThat(rest.getFirst().path("data").path("decision").asText()).isEqualTo(won);
            assertThat(writeCalls("race")).isEqualTo(won.equals("approved") ? 1 : 0);
        }
    }

    /** The instance that decides in the race: this one, or another on the same database. */
    TestApp secondInstance() {
        return app;
    }

    @Test
    void aRejectedCallCompletesAsRejectedWithoutRunningAndTheModelIsTold() {
        TestUsers.User user = TestUsers.register(app);
        int requestsBefore;
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "no");
            llm.then(OpenAiScript.answer("Not written."));
            requestsBefore = llm.requests().size();
            socket.send("approve_tool", Json.object().put("approval_id", required.path("data").path("approval_id")
                    .asText()).put("decision", "reject").put("reason", "not today"), null);
            List<JsonNode> rest = socket.runEvents(required.path("run_id").asText());
            assertThat(types(rest)).containsExactly("approval_resolved", "tool_completed", "agent_thinking",
                    "partial_result", "agent_completed");
            assertThat(rest.get(0).path("data").path("decision").asText()).isEqualTo("rejected");
            JsonNode completed = rest.get(1).path("data");
            assertThat(completed.path("status").asText()).isEqualTo("error");
            assertThat(completed.path("tool_call_id").asText()).isEqualTo("call_no");
            assertThat(completed.path("result").path("error").asText()).isEqualTo("rejected");
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
        }
        assertThat(writeCalls("no")).isZero();
        JsonNode messages = llm.requests().get(requestsBefore).body().path("messages");
        assertThat(messages.get(messages.size() - 1).path("content").asText()).contains("rejected");
    }

    @Test
    void anApprovalThatExpiresFailsClosed() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "late");
            String approvalId = required.path("data").path("approval_id").asText();
            llm.then(OpenAiScript.answer("Too late."));
            clock.advance(Duration.ofMinutes(5).plusSeconds(1));
            List<JsonNode> rest = socket.runEvents(required.path("run_id").asText());
            assertThat(rest.get(0).path("data").path("decision").asText()).isEqualTo("expired");
            assertThat(rest.get(1).path("data").path("result").path("error").asText()).isEqualTo("approval_expired");
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
            TestApp.Response late = decide(app, user, approvalId, "approve");
            assertThat(late.status()).isEqualTo(409);
            assertThat(late.json().path("error").path("code").asText()).isEqualTo("approval_resolved");
        }
        assertThat(writeCalls("late")).isZero();
    }

    @Test
    void aStopWhileWaitingCancelsTheApprovalAndTheRunWithinASecond() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "stop");
            String runId = required.path("run_id").asText();
            long stopped = System.nanoTime();
            socket.send("stop_agent", Json.object().put("run_id", runId), null);
            List<JsonNode> rest = socket.runEvents(runId);
            assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isLessThan(Duration.ofSeconds(1));
            assertThat(types(rest)).containsExactly("approval_resolved", "agent_completed");
            assertThat(rest.get(0).path("data").path("decision").asText()).isEqualTo("cancelled");
            assertThat(rest.get(1).path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(decide(app, user, required.path("data").path("approval_id").asText(), "approve").status())
                    .isEqualTo(409);
            assertThat(app.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText())
                    .isEqualTo("cancelled");
        }
        assertThat(writeCalls("stop")).isZero();
    }

    @Test
    void waitingForADecisionDoesNotCountTowardTheRunTimeout() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "patient");
            long since = System.nanoTime();
            Await.until("the wait outlasts the run timeout", RUN_TIMEOUT.plusSeconds(3),
                    () -> System.nanoTime() - since > RUN_TIMEOUT.plusMillis(500).toNanos());
            llm.then(OpenAiScript.answer("Patiently noted."));
            assertThat(decide(app, user, required.path("data").path("approval_id").asText(), "approve").status())
                    .isEqualTo(200);
            List<JsonNode> rest = socket.runEvents(required.path("run_id").asText());
            assertThat(rest.getLast().path("type").asText()).isEqualTo("agent_completed");
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
        }
    }

    @Test
    void anUnknownOrSomeoneElsesApprovalIsNotFoundAndABadDecisionIsRefused() {
        TestUsers.User owner = TestUsers.register(app);
        TestUsers.User other = TestUsers.register(app);
        try (SocketClient socket = connected(app, owner); SocketClient stranger = connected(app, other)) {
            JsonNode required = startWaiting(socket, "mine");
            String approvalId = required.path("data").path("approval_id").asText();

            TestApp.Response unknown = decide(app, owner, "0190f0f0-0000-7000-8000-000000000000", "approve");
            assertThat(unknown.status()).isEqualTo(404);
            assertThat(unknown.json().path("error").path("code").asText()).isEqualTo("approval_not_found");
            TestApp.Response foreign = decide(app, other, approvalId, "approve");
            assertThat(foreign.status()).isEqualTo(404);
            assertThat(foreign.json().path("error").path("code").asText()).isEqualTo("approval_not_found");
            stranger.send("approve_tool", Json.object().put("approval_id", approvalId).put("decision", "approve"), "s-1");
            JsonNode error = stranger.await("error");
            assertThat(error.path("data").path("error").path("code").asText()).isEqualTo("approval_not_found");
            assertThat(error.path("data").path("in_reply_to").asText()).isEqualTo("s-1");

            TestApp.Response bad = decide(app, owner, approvalId, "maybe");
            assertThat(bad.status()).isEqualTo(400);
            assertThat(bad.json().path("error").path("code").asText()).isEqualTo("invalid_request");
            socket.send("approve_tool", Json.object().put("approval_id", approvalId).put("decision", "approved"), "b-1");
            assertThat(socket.await("error").path("data").path("error").path("code").asText())
                    .isEqualTo("invalid_message");
            assertThat(app.get("/api/runs/" + required.path("run_id").asText(), owner.accessToken()).json()
                    .path("status").asText()).isEqualTo("awaiting_approval");

            llm.then(OpenAiScript.answer("Done."));
            assertThat(decide(app, owner, approvalId, "reject").status()).isEqualTo(200);
            socket.runEvents(required.path("run_id").asText());
        }
    }

    @Test
    void resumeReplaysTheApprovalEvents() {
        TestUsers.User user = TestUsers.register(app);
        String runId;
        try (SocketClient socket = connected(app, user)) {
            JsonNode required = startWaiting(socket, "replay");
            runId = required.path("run_id").asText();
            llm.then(OpenAiScript.answer("Replayed."));
            assertThat(decide(app, user, required.path("data").path("approval_id").asText(), "approve").status())
                    .isEqualTo(200);
            socket.runEvents(runId);
        }
        try (SocketClient later = connected(app, user)) {
            later.send("resume", Json.object().put("run_id", runId).put("last_seq", 0), null);
            List<JsonNode> replayed = later.runEvents(runId);
            assertThat(types(replayed)).containsSubsequence("agent_started", "approval_required", "approval_resolved",
                    "tool_executing", "tool_completed", "agent_completed");
            for (int i = 0; i < replayed.size(); i++) {
                assertThat(replayed.get(i).path("seq").asLong()).isEqualTo(i + 1);
            }
        }
    }

    @Test
    void aRunWaitingForApprovalIsResumedOnANewSocketAndApprovedThere() {
        TestUsers.User user = TestUsers.register(app);
        JsonNode required;
        try (SocketClient first = connected(app, user)) {
            required = startWaiting(first, "resumed");
        }
        String runId = required.path("run_id").asText();
        String approvalId = required.path("data").path("approval_id").asText();
        long requiredSeq = required.path("seq").asLong();
        try (SocketClient socket = connected(app, user)) {
            socket.send("resume", Json.object().put("run_id", runId).put("last_seq", 0), "r-1");
            List<JsonNode> replayed = new ArrayList<>();
            JsonNode resumed;
            while (true) {
                JsonNode frame = socket.next();
                if (frame.path("type").asText().equals("resumed")) {
                    resumed = frame;
                    break;
                }
                if (runId.equals(frame.path("run_id").asText(null))) {
                    replayed.add(frame);
                }
            }
            assertThat(types(replayed)).containsSubsequence("agent_started", "approval_required");
            assertThat(types(replayed)).doesNotContain("approval_resolved", "tool_executing", "tool_completed");
            for (int i = 0; i < replayed.size(); i++) {
                assertThat(replayed.get(i).path("seq").asLong()).isEqualTo(i + 1);
            }
            JsonNode replayedRequired = replayed.getLast();
            assertThat(replayedRequired.path("type").asText()).isEqualTo("approval_required");
            assertThat(replayedRequired.path("seq").asLong()).isEqualTo(requiredSeq);
            assertThat(replayedRequired.path("data").path("approval_id").asText()).isEqualTo(approvalId);
            assertThat(resumed.path("data").path("run_id").asText()).isEqualTo(runId);
            assertThat(resumed.path("data").path("complete").asBoolean()).isFalse();
            assertThat(resumed.path("data").path("last_seq").asLong()).isEqualTo(requiredSeq);
            assertThat(writeCalls("resumed")).isZero();

            llm.then(OpenAiScript.answer("Resumed and noted."));
            socket.send("approve_tool", Json.object().put("approval_id", approvalId).put("decision", "approve"), "a-1");
            List<JsonNode> rest = socket.runEvents(runId);
            assertThat(types(rest)).startsWith("approval_resolved", "tool_executing", "tool_completed");
            assertThat(types(rest)).doesNotContain("error");
            assertThat(rest.get(0).path("data").path("approval_id").asText()).isEqualTo(approvalId);
            assertThat(rest.get(0).path("data").path("decision").asText()).isEqualTo("approved");
            assertThat(rest.get(2).path("data").path("status").asText()).isEqualTo("success");
            assertThat(rest.get(2).path("data").path("result").path("text").asText()).isEqualTo("noted resumed");
            assertThat(rest.getLast().path("type").asText()).isEqualTo("agent_completed");
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
            for (int i = 0; i < rest.size(); i++) {
                assertThat(rest.get(i).path("seq").asLong()).isEqualTo(requiredSeq + 1 + i);
            }
        }
        assertThat(writeCalls("resumed")).isEqualTo(1);
    }

    @Test
    void aDeniedToolNeverRunsAndAskAppliesToBuiltInToolsToo() {
        llm.then(OpenAiScript.toolCall("call_d", "srv__fail", "{\"why\":\"x\"}"))
                .then(OpenAiScript.toolCall("call_p", "price_catalog", "{}"));
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", Json.object().put("user_request", "Denied then asked"), null);
            String runId = socket.await("agent_started").path("run_id").asText();
            JsonNode denied = socket.await("tool_completed");
            assertThat(denied.path("data").path("tool_name").asText()).isEqualTo("srv__fail");
            assertThat(denied.path("data").path("result").path("error").asText()).isEqualTo("denied");
            JsonNode required = socket.await("approval_required");
            assertThat(required.path("data").path("tool_name").asText()).isEqualTo("price_catalog");
            assertThat(required.path("data").path("source")).isEqualTo(Json.parse("{\"kind\":\"builtin\"}"));
            llm.then(OpenAiScript.answer("Prices."));
            assertThat(decide(app, user, required.path("data").path("approval_id").asText(), "approve").status())
                    .isEqualTo(200);
            List<JsonNode> rest = socket.runEvents(runId);
            assertThat(types(rest)).startsWith("approval_resolved", "tool_executing", "tool_completed");
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("completed");
        }
        assertThat(mcp.calls()).noneMatch(call -> call.tool().equals("fail"));
    }
}
