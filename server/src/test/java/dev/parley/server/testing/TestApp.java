package dev.parley.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.App;
import dev.parley.server.config.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The real {@link App} on a random port with its own data directory, and a real HTTP client to reach it. Tests
 * override any environment variable; everything else is the product's default.
 */
public final class TestApp implements AutoCloseable {
    public static final String SECRET = "test-secret-that-is-at-least-32-bytes-long";

    private final App app;
    private final Path dataDir;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TestApp(App app, Path dataDir) {
        this.app = app;
        this.dataDir = dataDir;
    }

    public static TestApp start() {
        return start(Map.of(), Clock.systemUTC());
    }

    public static TestApp start(Map<String, String> overrides) {
        return start(overrides, Clock.systemUTC());
    }

    public static TestApp start(Map<String, String> overrides, Clock clock) {
        return start(overrides, clock, null);
    }

    /** Starts the app with the given agent doing the work of every run (null: the app's own choice). */
    public static TestApp start(Map<String, String> overrides, Clock clock, dev.parley.server.agent.Agent agent) {
        Path dataDir;
        try {
            dataDir = Files.createTempDirectory("parley-test");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return start(dataDir, overrides, clock, agent);
    }

    /** Starts a new app on the data directory of a closed one, as a restart of the same instance would. */
    public static TestApp restart(TestApp previous, Map<String, String> overrides) {
        return start(previous.dataDir, overrides, Clock.systemUTC(), null);
    }

    private static TestApp start(Path dataDir, Map<String, String> overrides, Clock clock,
                                 dev.parley.server.agent.Agent agent) {
        Map<String, String> env = new HashMap<>();
        env.put("PORT", "0");
        env.put("PARLEY_HOST", "127.0.0.1");
        env.put("PARLEY_DATA_DIR", dataDir.toString());
        env.put("PARLEY_JWT_SECRET", SECRET);
        // Every test user signs up from 127.0.0.1.
        env.put("PARLEY_SIGNUP_LIMIT", "1000000");
        env.putAll(overrides);
        env.values().removeIf(value -> value == null || value.isEmpty());
        Config config = Config.from(env);
        return new TestApp(agent == null ? App.start(config, clock) : App.start(config, clock, agent), dataDir);
    }

    public App app() {
        return app;
    }

    public Path dataDir() {
        return dataDir;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + app.port();
    }

    public URI wsUri(String pathAndQuery) {
        return URI.create("ws://127.0.0.1:" + app.port() + pathAndQuery);
    }

    public HttpClient httpClient() {
        return http;
    }

    public Response get(String path, String token) {
        return send(request(path, token).GET().build());
    }

    public Response delete(String path, String token) {
        return send(request(path, token).DELETE().build());
    }

    public Response post(String path, String jsonBody, String token) {
        return send(request(path, token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(jsonBody)).build());
    }

    public Response patch(String path, String jsonBody, String token) {
        return send(request(path, token).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(jsonBody)).build());
    }

    public HttpRequest.Builder request(String path, String token) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(Duration.ofSeconds(20));
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        return builder;
    }

    public Response send(HttpRequest request) {
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            return new Response(response.statusCode(), response.body(), response);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A response with its body parsed on demand. */
    public record Response(int status, String body, HttpResponse<String> raw) {
        public JsonNode json() {
            return Json.parse(body);
        }

        public String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }

        /** The code of an error answer ({@code {"error": {"code": ...}}}), or "" when the body has none. */
        public String errorCode() {
            return json().path("error").path("code").asText();
        }
    }

    @Override
    public void close() {
        app.close();
    }
}
