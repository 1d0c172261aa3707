package dev.parley.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

/**
 * The HTTP routes of the protocol. Every call returns the raw {@link ApiResponse}, success or not, so callers (the
 * validator above all) can report exactly what came back.
 */
public final class ParleyHttp {
    private final URI base;
    private final HttpClient client;
    private final Duration timeout;

    public ParleyHttp(URI base, Duration timeout) {
        this.base = URI.create(base.toString().replaceAll("/+$", ""));
        this.timeout = timeout;
        this.client = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    public URI base() {
        return base;
    }

    public HttpClient httpClient() {
        return client;
    }

    public ApiResponse health() {
        return get("/health", null);
    }

    public ApiResponse ready() {
        return get("/health/ready", null);
    }

    public ApiResponse register(String email, String password, String name) {
        ObjectNode body = Json.object().put("email", email).put("password", password);
        if (name != null) {
            body.put("name", name);
        }
        return post("/auth/register", body, null);
    }

    public ApiResponse login(String email, String password) {
        return post("/auth/login", Json.object().put("email", email).put("password", password), null);
    }

    public ApiResponse refresh(String refreshToken) {
        return post("/auth/refresh", Json.object().put("refresh_token", refreshToken), null);
    }

    public ApiResponse logout(String accessToken) {
        return post("/auth/logout", Json.object(), accessToken);
    }

    public ApiResponse me(String accessToken) {
        return get("/auth/me", accessToken);
    }

    public ApiResponse ticket(String accessToken) {
        return post("/api/websocket/ticket", Json.object(), accessToken);
    }

    public ApiResponse threads(String accessToken) {
        return get("/api/threads", accessToken);
    }

    public ApiResponse createThread(String accessToken, String title) {
        ObjectNode body = Json.object();
        if (title != null) {
            body.put("title", title);
        }
        return post("/api/threads", body, accessToken);
    }

    public ApiResponse thread(String accessToken, String threadId) {
        return get("/api/threads/" + encode(threadId), accessToken);
    }

    public ApiResponse messages(String accessToken, String threadId) {
        return get("/api/threads/" + encode(threadId) + "/messages", accessToken);
    }

    public ApiResponse run(String accessToken, String runId) {
        return get("/api/runs/" + encode(runId), accessToken);
    }

    public ApiResponse runEvents(String accessToken, String runId, long afterSeq) {
        return get("/api/runs/" + encode(runId) + "/events?after_seq=" + afterSeq, accessToken);
    }

    public ApiResponse cancelRun(String accessToken, String runId) {
        return post("/api/runs/" + encode(runId) + "/cancel", Json.object(), accessToken);
    }

    public ApiResponse loadSampleUsage(String accessToken) {
        return post("/api/usage/sample", Json.object(), accessToken);
    }

    public ApiResponse get(String path, String accessToken) {
        return send(request(path, accessToken).GET().build());
    }

    public ApiResponse post(String path, Object body, String accessToken) {
        return send(request(path, accessToken).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(body))).build());
    }

    public ApiResponse send(String method, String path, String rawBody, Map<String, String> headers) {
        HttpRequest.Builder builder = request(path, null)
                .method(method, rawBody == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(rawBody));
        headers.forEach(builder::header);
        return send(builder.build());
    }

    private HttpRequest.Builder request(String path, String accessToken) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout);
        if (accessToken != null) {
            builder.header("Authorization", "Bearer " + accessToken);
        }
        return builder;
    }

    private ApiResponse send(HttpRequest request) {
        long started = System.nanoTime();
        try {
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            return new ApiResponse(response.statusCode(), response.headers(), response.body(),
                    Duration.ofNanos(System.nanoTime() - started));
        } catch (IOException e) {
            throw new UncheckedIOException(request.method() + " " + request.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
