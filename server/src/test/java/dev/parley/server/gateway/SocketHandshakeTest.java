package dev.parley.server.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.RawSocket;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The socket handshake of the contract: credential forms, subprotocol selection, refusals before the upgrade. */
class SocketHandshakeTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;
    private static TestUsers.User alice;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_WS_MAX_SOCKETS_PER_USER", "3"), Clock.systemUTC(), new ScriptedAgent());
        alice = TestUsers.register(app);
    }

    private static String b64(String token) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(token.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void bearerHeaderOpensSocketAndConnectionEstablishedIsFirstFrame() {
        try (SocketClient socket = SocketClient.open(app, alice.accessToken())) {
            JsonNode first = socket.next();
            assertThat(first.path("type").asText()).isEqualTo("connection_established");
            assertThat(first.path("timestamp").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
            JsonNode data = first.path("data");
            assertThat(data.path("connection_id").asText()).isNotBlank();
            assertThat(data.path("user_id").asText()).isEqualTo(alice.id());
            assertThat(data.path("server_time").asText()).isNotBlank();
            assertThat(data.path("heartbeat_interval_ms").asLong()).isEqualTo(25_000);
            assertThat(data.path("max_message_bytes").asInt()).isEqualTo(65_536);
            assertThat(data.path("protocol_version").asInt()).isEqualTo(1);
            assertThat(data.path("event").asText()).isEqualTo("connection_established");
            assertThat(data.path("connection_ready").asBoolean()).isTrue();
            assertThat(socket.subprotocol()).isEmpty();
        }
    }

    @Test
    void aliasPathOpensTheSameSocket() {
        try (SocketClient socket = SocketClient.connect(app, "/api/v1/websocket",
                Map.of("Authorization", "Bearer " + alice.accessToken()), List.of())) {
            assertThat(socket.next().path("type").asText()).isEqualTo("connection_established");
        }
    }

    @Test
    void jwtSubprotocolSelectsJwtAuthNeverTheTokenEntry() {
        try (SocketClient socket = SocketClient.connect(app, "/ws", Map.of(),
                List.of("jwt-auth", "jwt." + b64(alice.accessToken())))) {
            assertThat(socket.subprotocol()).isEqualTo("jwt-auth");
            assertThat(socket.next().path("data").path("user_id").asText()).isEqualTo(alice.id());
        }
    }

    @Test
    void bearerSubprotocolAcceptsRawAndBase64urlTokens() {
        try (SocketClient raw = SocketClient.connect(app, "/ws", Map.of(),
                List.of("bearer", "bearer." + alice.accessToken()))) {
            assertThat(raw.subprotocol()).isEqualTo("bearer");
            assertThat(raw.next().path("type").asText()).isEqualTo("connection_established");
        }
        try (SocketClient encoded = SocketClient.connect(app, "/ws", Map.of(),
                List.of("bearer", "bearer." + b64(alice.accessToken())))) {
            assertThat(encoded.subprotocol()).isEqualTo("bearer");
            assertThat(encoded.next().path("type").asText()).isEqualTo("connection_established");
        }
    }

    @Test
    void noSubprotocolIsSelectedWhenNoBareNameWasOffered() {
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws",
                Map.of("Sec-WebSocket-Protocol", "jwt." + b64(alice.accessToken())))) {
            assertThat(socket.handshake().status()).isEqualTo(101);
            assertThat(socket.handshake().header("Sec-WebSocket-Protocol")).isNull();
            assertThat(socket.readFrame().text()).contains("\"connection_established\"");
        }
    }

    @Test
    void bearerHeaderWithOfferedJwtAuthSelectsIt() {
        try (SocketClient socket = SocketClient.connect(app, "/ws",
                Map.of("Authorization", "Bearer " + alice.accessToken()), List.of("jwt-auth"))) {
            assertThat(socket.subprotocol()).isEqualTo("jwt-auth");
        }
    }

    @Test
    void ticketOpensOneSocketOnce() {
        TestApp.Response issued = app.post("/api/websocket/ticket", "{\"ttl_seconds\": 30}", alice.accessToken());
        assertThat(issued.status()).as(issued.body()).isEqualTo(201);
        String ticket = issued.json().path("ticket").asText();
        assertThat(Instant.parse(issued.json().path("expires_at").asText())).isAfter(Instant.now().plusSeconds(20));
        assertThat(issued.json().path("websocket_url").asText())
                .startsWith("ws://127.0.0.1:" + app.app().port() + "/ws?ticket=");
        try (SocketClient socket = SocketClient.connect(app, "/ws?ticket=" + ticket, Map.of(), List.of())) {
            assertThat(socket.next().path("data").path("user_id").asText()).isEqualTo(alice.id());
        }
        try (RawSocket again = RawSocket.upgrade(app.app().port(), "/ws?ticket=" + ticket, Map.of())) {
            assertRefused(again, 401, "invalid_token");
        }
    }

    @Test
    void ticketRouteValidatesTtlAndNeedsBearer() {
        assertThat(app.post("/api/websocket/ticket", "{}", null).status()).isEqualTo(401);
        TestApp.Response tooShort = app.post("/api/websocket/ticket", "{\"ttl_seconds\": 5}", alice.accessToken());
        assertThat(tooShort.status()).isEqualTo(400);
        assertThat(tooShort.json().path("error").path("code").asText()).isEqualTo("invalid_request");
        assertThat(app.post("/api/websocket/ticket", "{\"ttl_seconds\": 301}", alice.accessToken()).status()).isEqualTo(400);
        assertThat(app.post("/api/websocket/ticket", "{\"ttl_seconds\": \"60\"}", alice.accessToken()).status()).isEqualTo(400);
        TestApp.Response defaults = app.post("/api/websocket/ticket", "", alice.accessToken());
        assertThat(defaults.status()).isEqualTo(201);
        Instant expires = Instant.parse(defaults.json().path("expires_at").asText());
        assertThat(expires).isBetween(Instant.now().plusSeconds(50), Instant.now().plusSeconds(61));
    }

    @Test
    void noCredentialsIs401WithJsonBodyBeforeAnySocket() {
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws", Map.of())) {
            assertRefused(socket, 401, "unauthorized");
        }
    }

    @Test
    void badTokensAre401() {
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws", Map.of("Authorization", "Bearer nope"))) {
            assertRefused(socket, 401, "invalid_token");
        }
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws",
                Map.of("Sec-WebSocket-Protocol", "jwt-auth, jwt." + b64("not.a.jwt")))) {
            assertRefused(socket, 401, "invalid_token");
        }
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws?ticket=unknown", Map.of())) {
            assertRefused(socket, 401, "invalid_token");
        }
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws", Map.of("Authorization", "Basic abc"))) {
            assertRefused(socket, 401, "unauthorized");
        }
    }

    @Test
    void badAuthorizationHeaderIs401EvenWithAValidSubprotocolToken() {
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws", Map.of(
                "Authorization", "Bearer garbage",
                "Sec-WebSocket-Protocol", "jwt-auth, jwt." + b64(alice.accessToken())))) {
            assertRefused(socket, 401, "invalid_token");
        }
    }

    @Test
    void foreignOriginIs403AndOwnOriginOrNoneIsAllowed() {
        int port = app.app().port();
        try (RawSocket socket = RawSocket.upgrade(port, "/ws", Map.of(
                "Origin", "https://evil.example", "Authorization", "Bearer " + alice.accessToken()))) {
            assertRefused(socket, 403, "forbidden_origin");
        }
        try (RawSocket socket = RawSocket.upgrade(port, "/ws", Map.of(
                "Origin", "http://127.0.0.1:" + port, "Authorization", "Bearer " + alice.accessToken()))) {
            assertThat(socket.handshake().status()).isEqualTo(101);
        }
    }

    @Test
    void configuredOriginsReplaceTheServersOwn() {
        try (TestApp configured = TestApp.start(Map.of("PARLEY_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000/"),
                Clock.systemUTC(), new ScriptedAgent())) {
            TestUsers.User user = TestUsers.register(configured);
            int port = configured.app().port();
            Map<String, String> auth = Map.of("Authorization", "Bearer " + user.accessToken());
            for (String allowed : List.of("https://app.example.com", "http://localhost:3000")) {
                Map<String, String> headers = new java.util.HashMap<>(auth);
                headers.put("Origin", allowed);
                try (RawSocket socket = RawSocket.upgrade(port, "/ws", headers)) {
                    assertThat(socket.handshake().status()).as(allowed).isEqualTo(101);
                }
            }
            Map<String, String> own = new java.util.HashMap<>(auth);
            own.put("Origin", "http://127.0.0.1:" + port);
            try (RawSocket socket = RawSocket.upgrade(port, "/ws", own)) {
                assertRefused(socket, 403, "forbidden_origin");
            }
            try (RawSocket socket = RawSocket.upgrade(port, "/ws", auth)) {
                assertThat(socket.handshake().status()).isEqualTo(101);
            }
        }
    }

    @Test
    void originIsCheckedBeforeCredentials() {
        try (RawSocket socket = RawSocket.upgrade(app.app().port(), "/ws", Map.of("Origin", "https://evil.example"))) {
            assertRefused(socket, 403, "forbidden_origin");
        }
    }

    @Test
    void tooManySocketsIs429AndCredentialsAreCheckedFirst() {
        TestUsers.User carol = TestUsers.register(app);
        try (SocketClient one = SocketClient.open(app, carol.accessToken());
             SocketClient two = SocketClient.open(app, carol.accessToken());
             SocketClient three = SocketClient.open(app, carol.accessToken())) {
            one.next();
            two.next();
            three.next();
            try (RawSocket fourth = RawSocket.upgrade(app.app().port(), "/ws",
                    Map.of("Authorization", "Bearer " + carol.accessToken()))) {
                assertRefused(fourth, 429, "too_many_connections");
            }
            try (RawSocket unauthenticated = RawSocket.upgrade(app.app().port(), "/ws", Map.of())) {
                assertRefused(unauthenticated, 401, "unauthorized");
            }
        }
        // Closing frees the slots: a new socket opens at once.
        try (SocketClient again = SocketClient.open(app, carol.accessToken())) {
            assertThat(again.next().path("type").asText()).isEqualTo("connection_established");
        }
    }

    @Test
    void abruptDisconnectsFreeTheirSlots() {
        TestUsers.User dave = TestUsers.register(app);
        for (int i = 0; i < 3; i++) {
            SocketClient socket = SocketClient.open(app, dave.accessToken());
            socket.next();
            socket.abort();
        }
        try (SocketClient socket = SocketClient.open(app, dave.accessToken())) {
            assertThat(socket.next().path("type").asText()).isEqualTo("connection_established");
        }
    }

    static void assertRefused(RawSocket socket, int status, String code) {
        RawSocket.Handshake handshake = socket.handshake();
        assertThat(handshake.status()).as(handshake.body()).isEqualTo(status);
        assertThat(handshake.header("Content-Type")).startsWith("application/json");
        JsonNode body = Json.parse(handshake.body());
        assertThat(body.path("error").path("code").asText()).isEqualTo(code);
        assertThat(body.path("error").path("message").asText()).isNotBlank();
        assertThat(body.path("error").path("request_id").asText()).isNotBlank();
    }
}
