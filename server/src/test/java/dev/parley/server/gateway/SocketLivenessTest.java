package dev.parley.server.gateway;

import static dev.parley.server.gateway.RunEventsTest.payload;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ParleySocket;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Heartbeats and the life of a socket's credentials, on a clock the tests move: heartbeat after an interval of
 * silence, 1001 after three, 1008 at token expiry (after {@code auth_expiring}), {@code auth_refresh}, and 1008
 * {@code token_revoked} on sign-out of the token's family.
 */
class SocketLivenessTest {
    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));

    @RegisterExtension
    static final Servers servers = new Servers();

    private TestApp app;

    private void startWithHeartbeat(String interval) {
        app = servers.start(Map.of("PARLEY_HEARTBEAT_INTERVAL", interval), clock, new ScriptedAgent());
    }

    @Test
    void serverSendsHeartbeatAfterAnIntervalWithoutClientTrafficAndClosesAfterThree() {
        startWithHeartbeat("1s");
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            clock.advance(Duration.ofMillis(1000));
            JsonNode heartbeat = socket.next();
            assertThat(heartbeat.path("type").asText()).isEqualTo("heartbeat");
            clock.advance(Duration.ofMillis(1000));
            assertThat(socket.next().path("type").asText()).isEqualTo("heartbeat");
            clock.advance(Duration.ofMillis(1000));
            ParleySocket.Close close = socket.awaitClose();
            assertThat(close.code()).isEqualTo(1001);
            assertThat(close.reason()).isEqualTo("heartbeat_timeout");
        }
    }

    @Test
    void anyClientFrameIncludingWebSocketPongsIsLiveness() {
        startWithHeartbeat("1s");
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            clock.advance(Duration.ofMillis(2000));
            assertThat(socket.next().path("type").asText()).isEqualTo("heartbeat");
            socket.send("{\"type\":\"heartbeat_ack\"}");
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asText()).isEqualTo("pong");
            clock.advance(Duration.ofMillis(2500));
            assertThat(socket.next().path("type").asText()).isEqualTo("heartbeat");
            socket.sendPong(ByteBuffer.wrap(new byte[] {1}));
            // The pong frame has no answer; a ping after it shows the server read it before the next tick.
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asText()).isEqualTo("pong");
            clock.advance(Duration.ofMillis(2500));
            assertThat(socket.next().path("type").asText()).isEqualTo("heartbeat");
            assertThat(socket.isClosed()).isFalse();
            clock.advance(Duration.ofMillis(600));
            assertThat(socket.awaitClose().code()).isEqualTo(1001);
        }
    }

    @Test
    void socketWarnsBeforeItsTokenExpiresAndClosesWith1008AtExpiry() {
        startWithHeartbeat("10m");
        TestUsers.User user = TestUsers.register(app);
        Instant expiry = clock.instant().plus(Duration.ofMinutes(15));
        try (SocketClient socket = connected(app, user)) {
            clock.advance(Duration.ofMinutes(14));
            JsonNode expiring = socket.next();
            assertThat(expiring.path("type").asText()).isEqualTo("auth_expiring");
            assertThat(Instant.parse(expiring.path("data").path("expires_at").asText())).isEqualTo(expiry);
            clock.advance(Duration.ofMinutes(1));
            ParleySocket.Close close = socket.awaitClose();
            assertThat(close.code()).isEqualTo(1008);
            assertThat(close.reason()).isEqualTo("token_expired");
        }
    }

    @Test
    void aTokenCloseToExpiryStillGetsConnectionEstablishedFirst() {
        startWithHeartbeat("10m");
        TestUsers.User user = TestUsers.register(app);
        clock.advance(Duration.ofMinutes(14).plusSeconds(30));
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            assertThat(socket.next().path("type").asText()).isEqualTo("connection_established");
            assertThat(socket.next().path("type").asText()).isEqualTo("auth_expiring");
        }
    }

    @Test
    void authRefreshMovesTheExpiryAndABadTokenKeepsTheOldOne() {
        startWithHeartbeat("10m");
        TestUsers.User user = TestUsers.register(app);
        Instant firstExpiry = clock.instant().plus(Duration.ofMinutes(15));
        try (SocketClient kept = connected(app, user); SocketClient refreshed = connected(app, user)) {
            clock.advance(Duration.ofMinutes(10));
            TestUsers.User newer = TestUsers.refresh(app, user);
            refreshed.send("auth_refresh", payload("token", newer.accessToken()));
            JsonNode answer = refreshed.await("auth_refreshed");
            Instant secondExpiry = Instant.parse(answer.path("data").path("expires_at").asText());
            assertThat(secondExpiry).isEqualTo(clock.instant().plus(Duration.ofMinutes(15)));
            kept.send("auth_refresh", payload("token", "not-a-token"));
            assertThat(kept.await("error").path("data").path("error").path("code").asText()).isEqualTo("invalid_token");

            clock.advance(Duration.between(clock.instant(), firstExpiry));
            assertThat(kept.awaitClose().reason()).isEqualTo("token_expired");
            refreshed.send("{\"type\":\"ping\"}");
            assertThat(refreshed.await("pong").path("type").asText()).isEqualTo("pong");
            assertThat(refreshed.isClosed()).isFalse();

            clock.advance(Duration.between(clock.instant(), secondExpiry));
            assertThat(refreshed.awaitClose().reason()).isEqualTo("token_expired");
        }
    }

    @Test
    void signOutClosesEverySocketOfThatLoginWith1008AndNoOther() {
        startWithHeartbeat("10m");
        TestUsers.User user = TestUsers.register(app);
        TestUsers.User secondLogin = TestUsers.login(app, user);
        try (SocketClient one = connected(app, user); SocketClient two = connected(app, user);
             SocketClient other = connected(app, secondLogin)) {
            long signedOut = System.nanoTime();
            assertThat(app.post("/auth/logout", "", user.accessToken()).status()).isEqualTo(200);
            ParleySocket.Close first = one.awaitClose(Duration.ofSeconds(1));
            ParleySocket.Close second = two.awaitClose(Duration.ofSeconds(1));
            assertThat(Duration.ofNanos(System.nanoTime() - signedOut)).isLessThan(Duration.ofSeconds(1));
            assertThat(first.code()).isEqualTo(1008);
            assertThat(first.reason()).isEqualTo("token_revoked");
            assertThat(second.reason()).isEqualTo("token_revoked");
            other.send("{\"type\":\"ping\"}");
            assertThat(other.await("pong").path("type").asText()).isEqualTo("pong");
            assertThat(other.isClosed()).isFalse();
        }
    }

    @Test
    void ticketOfASignedOutLoginNoLongerOpensASocket() {
        startWithHeartbeat("10m");
        TestUsers.User user = TestUsers.register(app);
        String ticket = app.post("/api/websocket/ticket", "{}", user.accessToken()).json().path("ticket").asText();
        assertThat(app.post("/auth/logout", "", user.accessToken()).status()).isEqualTo(200);
        try (dev.parley.server.testing.RawSocket socket = dev.parley.server.testing.RawSocket.upgrade(
                app.app().port(), "/ws?ticket=" + ticket, Map.of())) {
            SocketHandshakeTest.assertRefused(socket, 401, "invalid_token");
        }
    }

    @Test
    void ticketExpiresAfterItsLifetime() {
        startWithHeartbeat("10m");
        TestUsers.User user = TestUsers.register(app);
        String ticket = app.post("/api/websocket/ticket", "{\"ttl_seconds\":10}", user.accessToken())
                .json().path("ticket").asText();
        clock.advance(Duration.ofSeconds(11));
        try (dev.parley.server.testing.RawSocket socket = dev.parley.server.testing.RawSocket.upgrade(
                app.app().port(), "/ws?ticket=" + ticket, Map.of())) {
            SocketHandshakeTest.assertRefused(socket, 401, "invalid_token");
        }
    }
}
