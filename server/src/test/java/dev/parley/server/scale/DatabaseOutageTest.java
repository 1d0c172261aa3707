package dev.parley.server.scale;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL goes away under a running instance: readiness turns 503 with {@code database: "down"}, requests are
 * answered {@code upstream_unavailable} (HTTP 503, or an {@code error} event on the socket, which stays open), and no
 * message is acknowledged that was not stored; once PostgreSQL is back, everything works again.
 */
class DatabaseOutageTest {
    @Test
    void withoutTheDatabaseNothingIsAcknowledgedAndEverythingWorksOnceItIsBack() {
        try (ProxiedPostgres database = ProxiedPostgres.start(); TestApp app = TestApp.start(database.env())) {
            TcpProxy proxy = database.proxy();
            TestUsers.User user = TestUsers.register(app);
            try (SocketClient socket = connected(app, user)) {
                JsonNode first = Cluster.start(socket, "How much did we spend?");
                String threadId = first.path("thread_id").asText();
                socket.runEvents(first.path("run_id").asText());

                proxy.cut();
                Await.until("readiness turns 503", Duration.ofSeconds(1),
                        () -> app.get("/health/ready", null).status() == 503);
                TestApp.Response ready = app.get("/health/ready", null);
                assertThat(ready.status()).isEqualTo(503);
                assertThat(ready.json().path("checks").path("database").asText()).isEqualTo("down");
                TestApp.Response create = app.post("/api/threads", "{}", user.accessToken());
                assertThat(create.status()).isEqualTo(503);
                assertThat(create.json().path("error").path("code").asText()).isEqualTo("upstream_unavailable");

                socket.send("user_message", Cluster.payload("content", "lost?", "thread_id", threadId), "m-down");
                JsonNode refused = socket.await("error");
                assertThat(refused.path("data").path("error").path("code").asText()).isEqualTo("upstream_unavailable");
                assertThat(refused.path("data").path("in_reply_to").asText()).isEqualTo("m-down");
                assertThat(socket.isClosed()).isFalse();

                proxy.restore();
                Await.until("readiness is back", Duration.ofSeconds(30),
                        () -> app.get("/health/ready", null).status() == 200);
                JsonNode messages = app.get("/api/threads/" + threadId + "/messages", user.accessToken()).json();
                assertThat(messages.path("messages")).hasSize(2);
                assertThat(messages.path("messages")).noneMatch(m -> m.path("content").asText().equals("lost?"));
                JsonNode second = Cluster.start(socket, "And now?");
                assertThat(socket.runEvents(second.path("run_id").asText()).getLast().path("type").asText())
                        .isEqualTo("agent_completed");
            }
        }
    }
}
