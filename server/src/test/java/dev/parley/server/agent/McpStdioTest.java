package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.McpStdioTestServer;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** An MCP server that runs as a local process (stdio): discovered, called, stopped, and given none of our secrets. */
class McpStdioTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static ScriptedLlmServer llm;
    private static TestApp app;
    private static Path cancellations;

    @BeforeAll
    static void start() throws Exception {
        llm = servers.keep(new ScriptedLlmServer());
        cancellations = Files.createTempFile("mcp-cancellations", ".txt");
        app = servers.start(llm.settings(Map.of(
                "PARLEY_MCP_SERVERS", Json.write(List.of(Map.of("id", "local", "transport", "stdio",
                        "command", McpStdioTestServer.command(cancellations)))))));
        TestUsers.User user = TestUsers.register(app);
        Await.until("the local MCP server connected", Duration.ofSeconds(20), () -> app.get("/api/mcp/servers",
                user.accessToken()).json().path("servers").path(0).path("status").asText().equals("connected"));
    }

    @AfterAll
    static void stop() throws Exception {
        Files.deleteIfExists(cancellations);
    }

    private static List<JsonNode> run(SocketClient socket, String request) {
        socket.send("start_agent", Json.object().put("user_request", request), null);
        return socket.runEvents(socket.await("agent_started").path("run_id").asText());
    }

    private static JsonNode completed(List<JsonNode> events) {
        return events.stream().filter(e -> e.path("type").asText().equals("tool_completed")).findFirst().orElseThrow()
                .path("data");
    }

    @Test
    void aLocalProcessToolIsCalledWithoutThisServersEnvironment() {
        llm.then(OpenAiScript.toolCall("call_s", "local__shout", "{\"text\":\"hello\"}")).then(OpenAiScript.answer("HELLO."))
                .then(OpenAiScript.toolCall("call_e", "local__environment", "{}")).then(OpenAiScript.answer("Env."));
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.await("connection_established");
            JsonNode shout = completed(run(socket, "Shout"));
            assertThat(shout.path("status").asText()).isEqualTo("success");
            assertThat(shout.path("source").path("server").asText()).isEqualTo("local");
            assertThat(shout.path("result").path("text").asText()).isEqualTo("HELLO");

            JsonNode environment = completed(run(socket, "Environment"));
            List<String> names = Arrays.asList(environment.path("result").path("text").asText().split(","));
            assertThat(names).noneMatch(name -> name.startsWith("PARLEY_") || name.startsWith("JAVA_"))
                    .allMatch(name -> List.of("PATH", "HOME", "LANG", "TMPDIR", "TZ").contains(name));
        }
    }

    @Test
    void aStopDuringALocalCallTellsTheProcessWithinASecond() throws Exception {
        llm.then(OpenAiScript.toolCall("call_w", "local__wait", "{\"text\":\"x\"}"));
        TestUsers.User user = TestUsers.register(app);
        long before = Files.readAllLines(cancellations).size();
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.await("connection_established");
            socket.send("start_agent", Json.object().put("user_request", "Wait"), null);
            String runId = socket.await("agent_started").path("run_id").asText();
            socket.await("tool_executing");
            socket.send("stop_agent", Json.object().put("run_id", runId), null);
            Await.until("notifications/cancelled at the local MCP server", Duration.ofSeconds(1),
                    () -> readLines(cancellations) > before);
            assertThat(socket.await("agent_completed").path("data").path("status").asText()).isEqualTo("cancelled");
        }
    }

    private static long readLines(Path file) {
        try {
            return Files.readAllLines(file).size();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
