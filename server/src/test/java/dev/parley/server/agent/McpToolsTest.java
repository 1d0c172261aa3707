package dev.parley.server.agent;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.McpTestServer;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Tools of MCP servers in language-model runs, end to end: a real MCP server over Streamable HTTP, a scripted model
 * provider over HTTP, the real app, real sockets.
 */
class McpToolsTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static McpTestServer mcp;
    private static McpTestServer gone;
    private static ScriptedLlmServer llm;
    private static TestApp app;

    @BeforeAll
    static void start() throws Exception {
        mcp = servers.keep(new McpTestServer());
        gone = servers.keep(new McpTestServer());
        llm = servers.keep(new ScriptedLlmServer());
        app = servers.start(llm.settings(Map.of(
                "PARLEY_MCP_SERVERS", "[{\"id\":\"srv\",\"url\":\"" + mcp.url() + "\",\"timeout_ms\":5000},"
                        + "{\"id\":\"gone\",\"url\":\"" + gone.url() + "\",\"timeout_ms\":2000},"
                        + "{\"id\":\"quick\",\"url\":\"" + mcp.url() + "\",\"timeout_ms\":1000}]")));
        TestUsers.User user = TestUsers.register(app);
        Await.until("both MCP servers connected", Duration.ofSeconds(10), () -> {
            JsonNode servers = app.get("/api/mcp/servers", user.accessToken()).json().path("servers");
            return servers.size() == 3 && servers.findValuesAsText("status").stream().allMatch("connected"::equals);
        });
    }

    private static List<JsonNode> run(SocketClient socket, String request) {
        socket.send("start_agent", Json.object().put("user_request", request), null);
        JsonNode started = socket.await("agent_started");
        return socket.runEvents(started.path("run_id").asText());
    }

    /** Scripts the model to call {@code tool} with {@code arguments}, then to answer; the events of the user's run. */
    private static List<JsonNode> runCalling(TestUsers.User user, String tool, String arguments, String request) {
        llm.then(OpenAiScript.toolCall("call_" + tool, tool, arguments)).then(OpenAiScript.answer("Done."));
        try (SocketClient socket = connected(app, user)) {
            return run(socket, request);
        }
    }

    /** Asserts that the run's tool call failed with {@code code} and the run still completed; the call's outcome. */
    private static JsonNode failedCallInCompletedRun(List<JsonNode> events, String code) {
        JsonNode completed = first(events, "tool_completed").path("data");
        assertThat(completed.path("status").asText()).isEqualTo("error");
        assertThat(completed.path("result").path("error").asText()).isEqualTo(code);
        assertThat(events.getLast().path("type").asText()).isEqualTo("agent_completed");
        assertThat(events.getLast().path("data").path("status").asText()).isEqualTo("completed");
        return completed;
    }

    private static JsonNode first(List<JsonNode> events, String type) {
        return events.stream().filter(e -> e.path("type").asText().equals(type)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type + " in " + events));
    }

    @Test
    void theServersToolsAreListedWithTheirPolicies() {
        TestUsers.User user = TestUsers.register(app);
        JsonNode servers = app.get("/api/mcp/servers", user.accessToken()).json().path("servers");
        JsonNode srv = servers.get(0);
        assertThat(srv.path("id").asText()).isEqualTo("srv");
        assertThat(srv.path("user_credential").isBoolean()).isTrue();
        assertThat(srv.path("user_credential").asBoolean()).isFalse();
        assertThat(srv.path("tools").findValuesAsText("name")).startsWith("lookup", "write_note", "fail", "slow",
                "garbage");
        assertThat(srv.path("tools").get(0).path("policy").asText()).isEqualTo("auto"); // readOnlyHint
        assertThat(srv.path("tools").get(1).path("policy").asText()).isEqualTo("ask");
        assertThat(app.get("/api/mcp/servers", null).status()).isEqualTo(401);
    }

    @Test
    void aToolIsDiscoveredOfferedToTheModelAndCalledWithItsSource() {
        llm.then(OpenAiScript.toolCall("call_1", "srv__lookup", "{\"query\":\"cats\"}"))
                .then(OpenAiScript.answer("Cats were found."));
        int requestsBefore = llm.requests().size();
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            List<JsonNode> events = run(socket, "Look up cats");

            JsonNode executing = first(events, "tool_executing").path("data");
            assertThat(executing.path("tool_name").asText()).isEqualTo("srv__lookup");
            assertThat(executing.path("source")).isEqualTo(Json.parse("{\"kind\":\"mcp\",\"server\":\"srv\"}"));
            assertThat(executing.path("parameters").path("query").asText()).isEqualTo("cats");
            JsonNode completed = first(events, "tool_completed").path("data");
            assertThat(completed.path("status").asText()).isEqualTo("success");
            assertThat(completed.path("source").path("server").asText()).isEqualTo("srv");
            assertThat(completed.path("result").path("text").asText()).isEqualTo("found cats");
            assertThat(events.getLast().path("data").path("status").asText()).isEqualTo("completed");
            assertThat(events.getLast().path("data").path("final_response").asText()).isEqualTo("Cats were found.");
        }
        List<ScriptedLlmServer.Request> requests = llm.requests().subList(requestsBefore, llm.requests().size());
        JsonNode tools = requests.getFirst().body().path("tools");
        JsonNode lookup = null;
        for (JsonNode tool : tools) {
            if (tool.path("function").path("name").asText().equals("srv__lookup")) {
                lookup = tool.path("function");
            }
        }
        assertThat(lookup).as("srv__lookup offered to the model in %s", tools).isNotNull();
        assertThat(lookup.path("parameters").path("properties").path("query").path("type").asText()).isEqualTo("string");
        assertThat(lookup.path("parameters").path("required").get(0).asText()).isEqualTo("query");
        assertThat(tools.findValuesAsText("name")).contains("query_usage", "gone__lookup");
        JsonNode messages = requests.get(1).body().path("messages");
        assertThat(messages.get(messages.size() - 1).path("content").asText()).contains("found cats");
        assertThat(mcp.calls()).anySatisfy(call -> {
            assertThat(call.tool()).isEqualTo("lookup");
            assertThat(call.arguments().path("query").asText()).isEqualTo("cats");
        });
    }

    @Test
    void builtInToolEventsNameTheirSourceToo() {
        List<JsonNode> events = runCalling(TestUsers.register(app), "price_catalog", "{}", "Prices?");
        assertThat(first(events, "tool_executing").path("data").path("source"))
                .isEqualTo(Json.parse("{\"kind\":\"builtin\"}"));
        assertThat(first(events, "tool_completed").path("data").path("source"))
                .isEqualTo(Json.parse("{\"kind\":\"builtin\"}"));
    }

    @Test
    void aToolErrorCompletesAsAnErrorAndTheRunGoesOn() {
        List<JsonNode> events = runCalling(TestUsers.register(app), "srv__fail", "{\"why\":\"test\"}", "Fail please");
        JsonNode completed = failedCallInCompletedRun(events, "tool_error");
        assertThat(completed.path("result").path("message").asText()).contains("the disk is full");
    }

    @Test
    void anAnswerThatIsNotMcpFailsTheCallAndNotTheRun() {
        List<JsonNode> events = runCalling(TestUsers.register(app), "srv__garbage", "{\"what\":\"x\"}",
                "Garbage please");
        JsonNode completed = failedCallInCompletedRun(events, "mcp_unavailable");
        assertThat(completed.path("result").path("message").asText()).doesNotContain("<html>");
    }

    @Test
    void aServerThatIsDownFailsItsToolCallAndNotTheRun() {
        gone.close();
        TestUsers.User user = TestUsers.register(app);
        failedCallInCompletedRun(runCalling(user, "gone__lookup", "{\"query\":\"x\"}", "Use the gone server"),
                "mcp_unavailable");
        JsonNode ready = app.get("/health/ready", null).json();
        assertThat(ready.path("status").asText()).isEqualTo("ready");
        assertThat(ready.path("checks").path("mcp").asText()).startsWith("unavailable:").contains("gone")
                .doesNotContain("quick");
        JsonNode servers = app.get("/api/mcp/servers", user.accessToken()).json().path("servers");
        assertThat(servers.get(1).path("status").asText()).isEqualTo("unavailable");
        assertThat(app.app().metrics().counter("parley_mcp_calls_total", "server", "gone", "outcome", "mcp_unavailable"))
                .isEqualTo(1);
    }

    @Test
    void aStopDuringAnMcpCallTellsTheServerWithinASecond() {
        llm.then(OpenAiScript.toolCall("call_s", "srv__slow", "{\"what\":\"x\"}"));
        TestUsers.User user = TestUsers.register(app);
        int cancelledBefore = mcp.cancelledRequests().size();
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", Json.object().put("user_request", "Be slow"), null);
            String runId = socket.await("agent_started").path("run_id").asText();
            socket.await("tool_executing");
            Await.until("the MCP server got the call", Duration.ofSeconds(5),
                    () -> mcp.calls().stream().anyMatch(call -> call.tool().equals("slow")));
            long stopped = System.nanoTime();
            socket.send("stop_agent", Json.object().put("run_id", runId), null);
            Await.until("notifications/cancelled at the MCP server", Duration.ofSeconds(1),
                    () -> mcp.cancelledRequests().size() > cancelledBefore);
            JsonNode completed = socket.await("agent_completed");
            assertThat(completed.path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isLessThan(Duration.ofSeconds(1));
        }
    }

    @Test
    void aChangedToolListAnnouncedOnTheServersStreamIsDiscoveredAgain() {
        TestUsers.User user = TestUsers.register(app);
        Await.until("the MCP server's stream is open", Duration.ofSeconds(5), mcp::streamOpen);
        assertThat(mcp.addToolAndAnnounce("translate")).isTrue();
        Await.until("translate listed", Duration.ofSeconds(5), () -> app.get("/api/mcp/servers", user.accessToken())
                .json().path("servers").get(0).path("tools").findValuesAsText("name").contains("translate"));
        llm.then(OpenAiScript.answer("Hello."));
        int before = llm.requests().size();
        try (SocketClient socket = connected(app, user)) {
            run(socket, "Hi");
        }
        assertThat(llm.requests().get(before).body().path("tools").findValuesAsText("name")).contains("srv__translate");
    }

    @Test
    void aCallPastItsServersTimeoutCompletesAsTimeoutAndIsCancelledAtTheServer() {
        int cancelledBefore = mcp.cancelledRequests().size();
        List<JsonNode> events = runCalling(TestUsers.register(app), "quick__slow", "{\"what\":\"y\"}", "Be quick");
        JsonNode completed = failedCallInCompletedRun(events, "timeout");
        assertThat(completed.path("source").path("server").asText()).isEqualTo("quick");
        Await.until("notifications/cancelled at the MCP server", Duration.ofSeconds(2),
                () -> mcp.cancelledRequests().size() > cancelledBefore);
    }

    @Test
    void aLostSessionIsInitialisedAgainOnTheNextCall() {
        mcp.forgetSessions();
        int initialisedBefore = mcp.initializations();
        List<JsonNode> events = runCalling(TestUsers.register(app), "srv__lookup", "{\"query\":\"dogs\"}",
                "Look up dogs");
        JsonNode completed = first(events, "tool_completed").path("data");
        assertThat(completed.path("status").asText()).isEqualTo("success");
        assertThat(completed.path("result").path("text").asText()).isEqualTo("found dogs");
        assertThat(mcp.initializations()).isGreaterThan(initialisedBefore);
    }
}
