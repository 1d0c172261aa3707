package dev.parley.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.ServerProcess;
import dev.parley.server.testing.SocketClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * The server killed (SIGKILL) in the middle of runs and started again on the same data: every user message a client
 * got {@code agent_started} for is stored, and every run the dead process left ends with an event numbered after
 * everything a client saw, so that no {@code seq} ever names two different events.
 */
class ProcessCrashTest {
    private static final int RUNS = 8;
    private static final Map<String, String> ENV = Map.of("PARLEY_DEV_LOGIN", "true",
            "PARLEY_AGENT_STEP_DELAY", "200ms", "PARLEY_RUN_LEASE", "3s", "PARLEY_WS_RATE_LIMIT", "1000",
            "PARLEY_WS_RATE_WINDOW", "1s", "PARLEY_WS_RATE_BURST", "1000");
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void afterAKillEveryAcknowledgedMessageIsStoredAndEveryRunEndsAfterTheLastSeqClientsSaw() throws Exception {
        Path dataDir = Files.createTempDirectory("parley-crash");
        Map<String, JsonNode> started = new LinkedHashMap<>();
        Map<String, Map<Long, JsonNode>> seen = new HashMap<>();
        String token;
        try (ServerProcess first = ServerProcess.start(dataDir, ENV)) {
            assertThat(first.awaitReady()).as("first start; log: %s", first.log()).isTrue();
            token = post(first, "/auth/dev/login", "{\"email\":\"crash@example.com\"}").path("access_token").asText();
            SocketClient socket = SocketClient.connect(http, first.wsUri("/ws"), Map.of("Authorization",
                    "Bearer " + token), List.of());
            socket.await("connection_established");
            for (int i = 0; i < RUNS; i++) {
                ObjectNode payload = Json.object().put("user_request", "Analyze my AI costs, take " + i);
                socket.send("start_agent", payload, "m" + i);
            }
            while (started.size() < RUNS || seen.values().stream().anyMatch(events -> events.size() < 3)) {
                JsonNode frame = socket.next();
                String runId = frame.path("run_id").asText(null);
                if (runId == null) {
                    continue;
                }
                if (frame.path("type").asText().equals(EventType.AGENT_STARTED)) {
                    started.put(runId, frame);
                }
                seen.computeIfAbsent(runId, id -> new HashMap<>()).put(frame.path("seq").asLong(), frame);
            }
            assertThat(seen.values()).as("runs still going when the process is killed")
                    .anySatisfy(events -> assertThat(events.values()).noneSatisfy(event -> assertThat(
                            event.path("type").asText()).isIn(EventType.AGENT_COMPLETED, EventType.AGENT_ERROR)));
            first.kill(); // mid-run: the agents are between steps, events are queued, nothing is drained
            socket.close();
        }

        try (ServerProcess second = ServerProcess.start(dataDir, ENV)) {
            assertThat(second.awaitReady()).as("second start; log: %s", second.log()).isTrue();
            for (Map.Entry<String, JsonNode> run : started.entrySet()) {
                String runId = run.getKey();
                Await.until("run " + runId + " is ended by the restarted server", Duration.ofSeconds(20),
                        () -> !get(second, "/api/runs/" + runId, token).path("status").asText().equals("running"));
                List<JsonNode> log = new ArrayList<>();
                get(second, "/api/runs/" + runId + "/events", token).path("events").forEach(log::add);
                assertThat(log).extracting(event -> event.path("seq").asLong())
                        .containsExactlyElementsOf(LongStream.rangeClosed(1, log.size()).boxed().toList());
                JsonNode last = log.getLast();
                assertThat(last.path("type").asText()).isIn(EventType.AGENT_COMPLETED, EventType.AGENT_ERROR);
                long highestSeen = seen.get(runId).keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
                assertThat(last.path("seq").asLong()).isGreaterThanOrEqualTo(highestSeen);
                seen.get(runId).forEach((seq, frame) -> assertThat(log.get((int) (seq - 1)))
                        .as("run %s seq %d names the event a client saw", runId, seq).isEqualTo(frame));

                String threadId = run.getValue().path("thread_id").asText();
                String messageId = run.getValue().path("data").path("message_id").asText();
                JsonNode messages = get(second, "/api/threads/" + threadId + "/messages", token).path("messages");
                assertThat(messages).as("the user message of run %s", runId)
                        .anySatisfy(message -> {
                            assertThat(message.path("id").asText()).isEqualTo(messageId);
                            assertThat(message.path("role").asText()).isEqualTo("user");
                        });
            }
        }
    }

    private JsonNode get(ServerProcess server, String path, String token) {
        return send(HttpRequest.newBuilder(server.uri(path)).header("Authorization", "Bearer " + token).build());
    }

    private JsonNode post(ServerProcess server, String path, String body) {
        return send(HttpRequest.newBuilder(server.uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private JsonNode send(HttpRequest request) {
        try {
            return Json.parse(http.send(request, HttpResponse.BodyHandlers.ofString()).body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
