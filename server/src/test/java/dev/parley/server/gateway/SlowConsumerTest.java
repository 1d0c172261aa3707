package dev.parley.server.gateway;

import static dev.parley.server.gateway.RunEventsTest.payload;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.RawSocket;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A client that stops reading: its bounded queue fills, it is closed with 1013 {@code slow_consumer}, and the other
 * sockets of the same user get every event on time meanwhile.
 */
class SlowConsumerTest {
    private static final int QUEUE_BYTES = 1_048_576;

    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_WS_SEND_QUEUE_BYTES", Integer.toString(QUEUE_BYTES),
                "PARLEY_SHUTDOWN_GRACE", "0"), Clock.systemUTC(), new ScriptedAgent(Duration.ofMillis(2)));
    }

    @Test
    void aClientThatDoesNotReadIsClosedWith1013AndDelaysNobodyElse() {
        TestUsers.User user = TestUsers.register(app);
        // A fixed receive buffer keeps the kernel from growing it while nobody reads. It stays above the loopback
        // MSS (64 KiB): with less, the client never advertises a full segment of window once it reads again, and
        // the server's kernel only sends zero-window probes, minutes apart.
        try (RawSocket stalled = RawSocket.upgrade(app.app().port(), "/ws",
                Map.of("Authorization", "Bearer " + user.accessToken()), 131_072);
             SocketClient reader = SocketClient.open(app, user.accessToken())) {
            assertThat(stalled.handshake().status()).isEqualTo(101);
            assertThat(reader.next().path("type").asText()).isEqualTo("connection_established");

            // 1500 events of 8 KB, one every 2 ms: 12 MB, far more than the stalled client's queue (1 MiB) and both
            // ends' socket buffers (at most 4 MiB + 128 KiB) hold. The reading client's queue holds 128 events, a
            // quarter of a second of stall on a busy machine before it would be closed as well.
            long started = System.nanoTime();
            reader.send("start_agent", payload("user_request", "paced 1500 8000"));
            String runId = reader.await("agent_started").path("run_id").asText();
            List<JsonNode> events = reader.runEvents(runId);
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertThat(events.getLast().path("data").path("status").asText()).isEqualTo("completed");
            assertThat(events).hasSize(1 + 3 + 1500);
            for (int i = 1; i < events.size(); i++) {
                assertThat(events.get(i).path("seq").asLong()).isEqualTo(events.get(i - 1).path("seq").asLong() + 1);
            }
            assertThat(took).isLessThan(Duration.ofSeconds(10));

            Await.until("the stalled socket is closed as a slow consumer", Duration.ofSeconds(10),
                    () -> app.app().metrics().counter("parley_ws_closed_total", "reason", "slow_consumer") == 1);
            assertThat(app.app().sockets().openSockets()).isEqualTo(1);

            // Reading now drains what the network still holds, and then the close frame arrives.
            RawSocket.Frame close;
            try {
                close = stalled.awaitClose();
            } catch (UncheckedIOException e) {
                throw new AssertionError("the close frame did not arrive before the connection ended", e);
            }
            assertThat(close.closeCode()).isEqualTo(1013);
            assertThat(close.closeReason()).isEqualTo("slow_consumer");
        }
    }
}
