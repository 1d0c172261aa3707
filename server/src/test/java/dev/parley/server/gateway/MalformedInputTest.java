package dev.parley.server.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.net.http.HttpRequest;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Input past the JSON limits, and requests that would grow /metrics without bound, are answered with a coded error;
 * nothing becomes a 500 or a silently dropped socket.
 */
class MalformedInputTest {
    private static final String DEEP = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
    private static final String LONG_NUMBER = "1".repeat(5_000);

    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of());
    }

    private static void assertInvalidJson(TestApp.Response response) {
        assertThat(response.status()).as(response.body()).isEqualTo(400);
        assertThat(response.json().path("error").path("code").asText()).isEqualTo("invalid_json");
        assertThat(response.json().path("error").path("request_id").asText()).isNotBlank();
    }

    @Test
    void jsonPastTheLimitsIsRefusedAsInvalidJsonOnEveryJsonRoute() {
        TestUsers.User user = TestUsers.register(app);
        String deepObject = "{\"email\":\"a@example.org\",\"password\":" + DEEP + "}";
        String longNumber = "{\"email\":\"a@example.org\",\"password\":" + LONG_NUMBER + "}";
        for (String body : new String[] {deepObject, longNumber}) {
            assertInvalidJson(app.post("/auth/login", body, null));
            assertInvalidJson(app.post("/auth/register", body, null));
            assertInvalidJson(app.post("/api/threads", body, user.accessToken()));
        }
        // Just inside the limits: an ordinary answer, not invalid_json.
        String deepest = "[".repeat(Json.MAX_DEPTH - 1) + "]".repeat(Json.MAX_DEPTH - 1);
        TestApp.Response inside = app.post("/auth/login", "{\"email\":\"a@example.org\",\"password\":" + deepest + "}",
                null);
        assertThat(inside.status()).isEqualTo(400);
        assertThat(inside.json().path("error").path("code").asText()).isNotEqualTo("invalid_json");
    }

    @Test
    void framePastTheJsonLimitsGetsAnErrorAndTheSocketStaysOpen() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            assertThat(socket.next().path("type").asText()).isEqualTo("connection_established");
            for (String frame : new String[] {DEEP, "{\"type\":\"ping\",\"payload\":" + DEEP + "}",
                    "{\"type\":\"ping\",\"payload\":{\"n\":" + LONG_NUMBER + "}}"}) {
                socket.send(frame);
                JsonNode error = socket.next();
                assertThat(error.path("type").asText()).as(error.toString()).isEqualTo("error");
                assertThat(error.path("data").path("error").path("code").asText()).isEqualTo("invalid_json");
            }
            socket.send("{\"type\":\"ping\",\"message_id\":\"after\"}");
            assertThat(socket.next().path("type").asText()).isEqualTo("pong");
            assertThat(socket.isClosed()).isFalse();
        }
    }

    @Test
    void methodsOutsideTheKnownSetShareOneMetricLabel() {
        for (int i = 0; i < 20; i++) {
            String method = "X" + UUID.randomUUID().toString().replace("-", "").substring(0, 12).toUpperCase();
            app.send(app.request("/health", null).method(method, HttpRequest.BodyPublishers.noBody()).build());
        }
        String metrics = app.get("/metrics", null).body();
        assertThat(metrics).doesNotContainPattern("method=\"X[0-9A-F]{12}\"");
        assertThat(metrics).contains("method=\"other\"");
    }
}
