package dev.parley.server.gateway;

import static dev.parley.server.gateway.RunEventsTest.payload;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Client messages that are not runs: pings and heartbeats, refusals coded by the contract with {@code in_reply_to},
 * the rate limit, thread history and token refresh. The clock only moves when a test moves it, so the rate
 * limiter's bucket never refills by itself.
 */
class SocketMessagesTest {
    private static final MutableClock CLOCK = new MutableClock(Instant.now());

    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of(), CLOCK, new ScriptedAgent());
    }

    private static JsonNode errorFor(SocketClient socket, String message) {
        socket.send(message);
        JsonNode error = socket.next();
        assertThat(error.path("type").asText()).as(error.toString()).isEqualTo("error");
        return error.path("data");
    }

    @Test
    void pingAnswersPongWithTheClientTimestampAndServerTime() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("{\"type\":\"ping\",\"payload\":{\"timestamp\":1234}}");
            JsonNode pong = socket.next();
            assertThat(pong.path("type").asText()).isEqualTo("pong");
            assertThat(pong.path("data").path("timestamp").asLong()).isEqualTo(1234);
            assertThat(pong.path("data").path("server_time").asText()).isNotBlank();
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("data").path("timestamp").asText()).isNotBlank();
        }
    }

    @Test
    void heartbeatIsAcknowledgedAndAcksAndPongsGetNoAnswer() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("{\"type\":\"heartbeat\"}");
            assertThat(socket.next().path("type").asText()).isEqualTo("heartbeat_ack");
            socket.send("{\"type\":\"heartbeat_ack\"}");
            socket.send("{\"type\":\"pong\",\"payload\":{}}");
            socket.send("{\"type\":\"ping\",\"message_id\":\"after\"}");
            // Answers come in order: had the ack or the pong been answered, that answer would come first.
            assertThat(socket.next().path("type").asText()).isEqualTo("pong");
        }
    }

    @Test
    void malformedMessagesAreCodedErrorsAndTheSocketStaysOpen() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            JsonNode notJson = errorFor(socket, "{not json");
            assertThat(notJson.path("error").path("code").asText()).isEqualTo("invalid_json");
            assertThat(notJson.path("in_reply_to").isNull()).isTrue();

            JsonNode noType = errorFor(socket, "{\"payload\":{},\"message_id\":\"m1\"}");
            assertThat(noType.path("error").path("code").asText()).isEqualTo("invalid_message");
            assertThat(noType.path("error").path("message").asText()).contains("'type'");
            assertThat(noType.path("in_reply_to").asText()).isEqualTo("m1");

            JsonNode array = errorFor(socket, "[1,2]");
            assertThat(array.path("error").path("code").asText()).isEqualTo("invalid_message");

            JsonNode unknown = errorFor(socket, "{\"type\":\"teleport\"}");
            assertThat(unknown.path("error").path("code").asText()).isEqualTo("unknown_type");
            assertThat(unknown.path("in_reply_to").asText()).isEqualTo("teleport");

            JsonNode wrongKind = errorFor(socket, "{\"type\":\"stop_agent\",\"payload\":{\"run_id\":7},\"message_id\":\"m2\"}");
            assertThat(wrongKind.path("error").path("code").asText()).isEqualTo("invalid_message");
            assertThat(wrongKind.path("error").path("message").asText()).contains("'run_id'");
            assertThat(wrongKind.path("in_reply_to").asText()).isEqualTo("m2");

            JsonNode missing = errorFor(socket, "{\"type\":\"start_agent\",\"payload\":{\"thread_id\":null}}");
            assertThat(missing.path("error").path("code").asText()).isEqualTo("invalid_message");
            assertThat(missing.path("error").path("message").asText()).contains("'user_request'");

            JsonNode empty = errorFor(socket, "{\"type\":\"user_message\",\"payload\":{\"content\":\"  \"}}");
            assertThat(empty.path("error").path("code").asText()).isEqualTo("invalid_message");
            assertThat(empty.path("error").path("message").asText()).contains("'content'");

            JsonNode badPayload = errorFor(socket, "{\"type\":\"resume\",\"payload\":\"run-1\"}");
            assertThat(badPayload.path("error").path("code").asText()).isEqualTo("invalid_message");

            JsonNode badSeq = errorFor(socket, "{\"type\":\"resume\",\"payload\":{\"run_id\":\"r\",\"last_seq\":\"x\"}}");
            assertThat(badSeq.path("error").path("message").asText()).contains("'last_seq'");

            JsonNode badContext = errorFor(socket,
                    "{\"type\":\"start_agent\",\"payload\":{\"user_request\":\"hi\",\"context\":\"x\"}}");
            assertThat(badContext.path("error").path("message").asText()).contains("'context'");

            CLOCK.advance(Duration.ofSeconds(10)); // ten messages used the burst up
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asText()).isEqualTo("pong");
        }
    }

    @Test
    void rateLimitAnswersRateLimitedWithRetryAfterAndCountsPings() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            for (int i = 0; i < 10; i++) {
                socket.send("{\"type\":\"ping\"}");
                assertThat(socket.next().path("type").asText()).isEqualTo("pong");
            }
            socket.send("{\"type\":\"ping\",\"message_id\":\"eleventh\"}");
            JsonNode limited = socket.next();
            assertThat(limited.path("type").asText()).isEqualTo("error");
            assertThat(limited.path("data").path("error").path("code").asText()).isEqualTo("rate_limited");
            long retryAfter = limited.path("data").path("error").path("retry_after_ms").asLong();
            assertThat(retryAfter).isBetween(1L, 334L);
            assertThat(limited.path("data").path("in_reply_to").asText()).isEqualTo("eleventh");

            CLOCK.advance(Duration.ofMillis(retryAfter));
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asText()).isEqualTo("pong");
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("data").path("error").path("code").asText()).isEqualTo("rate_limited");
            CLOCK.advance(Duration.ofSeconds(10));
        }
    }

    @Test
    void threadHistoryAnswersTheThreadsMessagesOldestFirst() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "deltas 2"));
            JsonNode started = socket.await("agent_started");
            String threadId = started.path("thread_id").asText();
            socket.runEvents(started.path("run_id").asText());

            socket.send("get_thread_history", payload("thread_id", threadId));
            JsonNode history = socket.await("thread_history");
            assertThat(history.path("data").path("thread_id").asText()).isEqualTo(threadId);
            JsonNode messages = history.path("data").path("messages");
            assertThat(messages).hasSize(2);
            assertThat(messages.get(0).path("role").asText()).isEqualTo("user");
            assertThat(messages.get(0).path("content").asText()).isEqualTo("deltas 2");
            assertThat(messages.get(1).path("role").asText()).isEqualTo("assistant");
            assertThat(messages.get(1).path("content").asText()).isEqualTo("w0 w1 ");

            socket.send("{\"type\":\"get_thread_history\",\"payload\":{\"thread_id\":\"" + threadId + "\",\"limit\":1,"
                    + "\"before\":\"" + messages.get(1).path("id").asText() + "\"}}");
            JsonNode page = socket.await("thread_history").path("data").path("messages");
            assertThat(page).hasSize(1);
            assertThat(page.get(0).path("role").asText()).isEqualTo("user");

            socket.send("get_thread_history", payload("thread_id", "nope"), "h1");
            JsonNode missing = socket.await("error");
            assertThat(missing.path("data").path("error").path("code").asText()).isEqualTo("thread_not_found");
            assertThat(missing.path("data").path("in_reply_to").asText()).isEqualTo("h1");
        }
        CLOCK.advance(Duration.ofSeconds(10));
    }

    @Test
    void authRefreshExtendsTheSocketWithANewTokenOfTheSameUser() {
        TestUsers.User user = TestUsers.register(app);
        TestUsers.User other = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            TestUsers.User refreshed = TestUsers.refresh(app, user);
            socket.send("auth_refresh", payload("token", refreshed.accessToken()));
            JsonNode answer = socket.await("auth_refreshed");
            assertThat(Instant.parse(answer.path("data").path("expires_at").asText())).isAfter(CLOCK.instant());

            socket.send("auth_refresh", payload("token", "garbage"), "r1");
            JsonNode bad = socket.await("error");
            assertThat(bad.path("data").path("error").path("code").asText()).isEqualTo("invalid_token");
            assertThat(bad.path("data").path("in_reply_to").asText()).isEqualTo("r1");

            socket.send("auth_refresh", payload("token", other.accessToken()), "r2");
            JsonNode foreign = socket.await("error");
            assertThat(foreign.path("data").path("error").path("code").asText()).isEqualTo("invalid_token");

            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.await("pong").path("type").asText()).isEqualTo("pong");
        }
    }
}
