package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.McpTestServer;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An MCP server whose calls need each user's own credential ({@code user_secret}): the user stores it over HTTP, it
 * is kept sealed, each user's calls carry their own, and a call without one completes as {@code mcp_auth_required}
 * before any approval is asked.
 */
class McpCredentialsTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static McpTestServer mcp;
    private static ScriptedLlmServer llm;
    private static TestApp app;

    @BeforeAll
    static void start() throws Exception {
        mcp = servers.keep(new McpTestServer());
        llm = servers.keep(new ScriptedLlmServer());
        app = servers.start(llm.settings(mcp.userSecretSettings("mine")));
        TestUsers.User user = TestUsers.register(app);
        Await.until("the MCP server's tools discovered", Duration.ofSeconds(10), () -> !app.get("/api/mcp/servers",
                user.accessToken()).json().path("servers").path(0).path("tools").isEmpty());
    }

    private static String status(TestUsers.User user) {
        return app.get("/api/mcp/servers", user.accessToken()).json().path("servers").path(0).path("status").asText();
    }

    private static TestApp.Response store(TestUsers.User user, String server, String token) {
        return app.send(app.request("/api/mcp/servers/" + server + "/credentials", user.accessToken())
                .header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString(Json.write(Json.object().put("token", token))))
                .build());
    }

    private static List<JsonNode> run(TestUsers.User user, String tool, String arguments) {
        llm.then(OpenAiScript.toolCall("call_x", tool, arguments)).then(OpenAiScript.answer("Done."));
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.await("connection_established");
            socket.send("start_agent", Json.object().put("user_request", "Use " + tool), null);
            return socket.runEvents(socket.await("agent_started").path("run_id").asText());
        }
    }

    @Test
    void aUserStoresAndRemovesTheirCredentialAndTheServerShowsWhetherTheyHaveOne() {
        TestUsers.User user = TestUsers.register(app);
        assertThat(status(user)).isEqualTo("needs_auth");
        assertThat(app.get("/api/mcp/servers", user.accessToken()).json().path("servers").path(0)
                .path("user_credential").asBoolean()).isTrue();
        assertThat(store(user, "mine", "token-a").status()).isEqualTo(204);
        assertThat(status(user)).isEqualTo("connected");
        assertThat(app.delete("/api/mcp/servers/mine/credentials", user.accessToken()).status()).isEqualTo(204);
        assertThat(status(user)).isEqualTo("needs_auth");

        assertThat(store(user, "other", "token-a").status()).isEqualTo(404);
        assertThat(store(user, "mine", "line\nbreak").status()).isEqualTo(400);
        assertThat(store(user, "mine", "").status()).isEqualTo(400);
        assertThat(app.delete("/api/mcp/servers/mine/credentials", null).status()).isEqualTo(401);
    }

    @Test
    void aCallWithoutTheUsersCredentialCompletesAsAuthRequiredBeforeAnyApproval() {
        TestUsers.User user = TestUsers.register(app);
        List<JsonNode> events = run(user, "mine__write_note", "{\"text\":\"secret\"}");
        assertThat(events).extracting(e -> e.path("type").asText()).doesNotContain("approval_required", "tool_executing");
        JsonNode completed = events.stream().filter(e -> e.path("type").asText().equals("tool_completed")).findFirst()
                .orElseThrow().path("data");
        assertThat(completed.path("status").asText()).isEqualTo("error");
        assertThat(completed.path("result").path("error").asText()).isEqualTo("mcp_auth_required");
        assertThat(completed.path("result").path("server").asText()).isEqualTo("mine");
        assertThat(events.getLast().path("data").path("status").asText()).isEqualTo("completed");
    }

    @Test
    void eachUsersCallCarriesTheirOwnCredentialWhichIsStoredSealed() throws Exception {
        TestUsers.User alice = TestUsers.register(app);
        TestUsers.User bob = TestUsers.register(app);
        mcp.requireAuthorization(Set.of("Bearer alice-token", "Bearer bob-token"));
        try {
            assertThat(store(alice, "mine", "alice-token").status()).isEqualTo(204);
            assertThat(store(bob, "mine", "wrong-token").status()).isEqualTo(204);

            List<JsonNode> refused = run(bob, "mine__lookup", "{\"query\":\"b\"}");
            JsonNode bobResult = refused.stream().filter(e -> e.path("type").asText().equals("tool_completed"))
                    .findFirst().orElseThrow().path("data").path("result");
            assertThat(bobResult.path("error").asText()).isEqualTo("mcp_auth_required");

            assertThat(store(bob, "mine", "bob-token").status()).isEqualTo(204);
            for (TestUsers.User user : List.of(alice, bob)) {
                List<JsonNode> events = run(user, "mine__lookup", "{\"query\":\"" + user.email() + "\"}");
                JsonNode completed = events.stream().filter(e -> e.path("type").asText().equals("tool_completed"))
                        .findFirst().orElseThrow().path("data");
                assertThat(completed.path("status").asText()).isEqualTo("success");
            }
            assertThat(mcp.calls()).anySatisfy(call -> {
                assertThat(call.arguments().path("query").asText()).isEqualTo(alice.email());
                assertThat(call.authorization()).isEqualTo("Bearer alice-token");
            }).anySatisfy(call -> {
                assertThat(call.arguments().path("query").asText()).isEqualTo(bob.email());
                assertThat(call.authorization()).isEqualTo("Bearer bob-token");
            });
        } finally {
            mcp.requireAuthorization(Set.of());
        }
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + app.dataDir().resolve("parley.db"));
             ResultSet rows = db.createStatement().executeQuery("SELECT sealed FROM mcp_credentials")) {
            int count = 0;
            while (rows.next()) {
                count++;
                assertThat(rows.getString(1)).startsWith("v1:").doesNotContain("alice-token").doesNotContain("bob-token");
            }
            assertThat(count).isGreaterThanOrEqualTo(2);
        }
    }
}
