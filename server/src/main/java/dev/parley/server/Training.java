package dev.parley.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.config.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The workload that trains the JDK's AOT cache ({@code -XX:AOTCacheOutput}, what {@code bin/parley aot} and the
 * image build run): a real server on an ephemeral port and a fresh data directory, and real clients over HTTP and
 * WebSocket doing what users do first, so that the classes of that path are loaded and linked before the first user
 * arrives. Each client signs up, signs in, lists its threads, opens a socket, sends a ping, then runs turns
 * ({@code start_agent} to {@code agent_completed}), some of them in the thread of the one before, and reads a run's
 * events over HTTP and by {@code resume}. Clients run at once, as users do.
 */
final class Training {
    static final int CLIENTS = 4;
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final int turnsPerClient;

    Training(int turnsPerClient) {
        this.turnsPerClient = turnsPerClient;
    }

    /** Starts a server, runs the workload against it, stops it; returns the number of turns that completed. */
    int run() {
        Path data = temporaryDirectory();
        App app = App.start(Config.from(settings(data)), Clock.systemUTC());
        try {
            String base = "http://127.0.0.1:" + app.port();
            List<CompletableFuture<Integer>> clients = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                String email = "training-" + i + "@parley.local";
                clients.add(CompletableFuture.supplyAsync(() -> client(base, email), runnable -> Thread.ofVirtual()
                        .start(runnable)));
            }
            return clients.stream().mapToInt(CompletableFuture::join).sum();
        } finally {
            app.close();
            delete(data);
        }
    }

    /** The training server's settings: nothing of the environment, so that a training run is the same everywhere. */
    static Map<String, String> settings(Path data) {
        return Map.of("PORT", "0", "PARLEY_HOST", "127.0.0.1", "PARLEY_DATA_DIR", data.toString(),
                "PARLEY_AGENT_STEP_DELAY", "0", "PARLEY_WS_RATE_LIMIT", "100000", "PARLEY_WS_RATE_BURST", "100000",
                "PARLEY_LOG_LEVEL", "WARN");
    }

    private int client(String base, String email) {
        HttpClient http = HttpClient.newHttpClient();
        String account = Json.write(Json.object().put("email", email).put("password", "training password 1"));
        post(http, base + "/auth/register", account, null);
        String token = post(http, base + "/auth/login", account, null).path("access_token").asText();
        get(http, base + "/api/threads", token);
        Frames frames = new Frames();
        WebSocket socket = http.newWebSocketBuilder().header("Authorization", "Bearer " + token)
                .buildAsync(URI.create(base.replace("http", "ws") + "/ws"), frames).join();
        frames.next("connection_established");
        send(socket, "ping", Json.object());
        frames.next("pong");
        String threadId = null;
        String runId = null;
        int completed = 0;
        for (int turn = 0; turn < turnsPerClient; turn++) {
            var payload = Json.object().put("user_request", "What did my AI usage cost by model last month?");
            if (threadId != null && turn % 4 != 0) {
                payload.put("thread_id", threadId);
            }
            send(socket, "start_agent", payload);
            JsonNode started = frames.next("agent_started");
            threadId = started.path("thread_id").asText();
            runId = started.path("run_id").asText();
            if (frames.next("agent_completed").path("run_id").asText().equals(runId)) {
                completed++;
            }
        }
        get(http, base + "/api/runs/" + runId + "/events", token);
        get(http, base + "/api/threads/" + threadId + "/messages", token);
        send(socket, "resume", Json.object().put("run_id", runId).put("last_seq", 1));
        frames.next("resumed");
        socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").join();
        return completed;
    }

    private static void send(WebSocket socket, String type, JsonNode payload) {
        socket.sendText(Json.write(Json.object().put("type", type).set("payload", payload)), true).join();
    }

    private static JsonNode post(HttpClient http, String url, String body, String token) {
        return call(http, HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)), token);
    }

    private static JsonNode get(HttpClient http, String url, String token) {
        return call(http, HttpRequest.newBuilder(URI.create(url)).GET(), token);
    }

    private static JsonNode call(HttpClient http, HttpRequest.Builder request, String token) {
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        try {
            HttpResponse<String> response = http.send(request.timeout(TIMEOUT).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() >= 300) {
                throw new IllegalStateException("training: " + response.request().uri().getPath() + " answered "
                        + response.statusCode() + ": " + response.body());
            }
            return Json.parse(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("training interrupted", e);
        }
    }

    /** The frames a socket received, in order, taken by type. */
    private static final class Frames implements WebSocket.Listener {
        private final LinkedBlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket socket, CharSequence text, boolean last) {
            partial.append(text);
            if (last) {
                received.add(Json.parse(partial.toString()));
                partial.setLength(0);
            }
            socket.request(1);
            return null;
        }

        /** Skips frames up to the next one of this type; fails on an error frame or after the timeout. */
        JsonNode next(String type) {
            try {
                while (true) {
                    JsonNode frame = received.poll(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                    if (frame == null) {
                        throw new IllegalStateException("training: no " + type + " within " + TIMEOUT.toSeconds() + " s");
                    }
                    String got = frame.path("type").asText();
                    if (got.equals("error") || got.equals("agent_error")) {
                        throw new IllegalStateException("training: waiting for " + type + ", got " + frame);
                    }
                    if (got.equals(type)) {
                        return frame;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("training interrupted", e);
            }
        }
    }

    private static Path temporaryDirectory() {
        try {
            return Files.createTempDirectory("parley-training");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path directory) {
        try (Stream<Path> paths = Files.walk(directory)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
