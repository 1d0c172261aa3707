package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A local stand-in for a model provider: a real HTTP server that answers each request with the next scripted reply,
 * written in the provider's own streaming wire format, and records what it was sent. A stalling reply keeps the
 * stream open after its first chunks and, once released, writes until the client's side of the connection is gone,
 * which it reports.
 */
public final class ScriptedLlmServer implements AutoCloseable {
    /** One request as the server received it. */
    record Request(String method, String path, String query, Map<String, List<String>> headers, JsonNode body) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().getFirst()).findFirst().orElse(null);
        }
    }

    @FunctionalInterface
    public interface Reply {
        void write(HttpExchange exchange, ScriptedLlmServer server) throws IOException, InterruptedException;
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final BlockingQueue<Reply> replies = new LinkedBlockingQueue<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final CountDownLatch released = new CountDownLatch(1);
    private final CountDownLatch clientGone = new CountDownLatch(1);

    public ScriptedLlmServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(executor);
        server.start();
    }

    public String url(String path) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    /** The app's settings that make this server its language model (OpenAI's wire format), with {@code more}; mutable. */
    public Map<String, String> settings(Map<String, String> more) {
        Map<String, String> settings = new HashMap<>(more);
        settings.put("PARLEY_LLM_PROVIDER", "openai");
        settings.put("PARLEY_LLM_API_KEY", "test-key");
        settings.put("PARLEY_LLM_BASE_URL", url("/v1"));
        return settings;
    }

    public ScriptedLlmServer then(Reply reply) {
        replies.add(reply);
        return this;
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Lets a stalling reply go on writing, so that it finds out whether the client is still there. */
    void release() {
        released.countDown();
    }

    boolean awaitClientGone(Duration timeout) throws InterruptedException {
        return clientGone.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            byte[] body = exchange.getRequestBody().readAllBytes();
            String text = new String(body, StandardCharsets.UTF_8);
            requests.add(new Request(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
                    exchange.getRequestURI().getQuery(), Map.copyOf(exchange.getRequestHeaders()),
                    text.isBlank() ? Json.object() : Json.parse(text)));
            Reply reply = replies.poll();
            if (reply == null) {
                status(500, "{\"error\":\"no scripted reply left\"}").write(exchange, this);
                return;
            }
            reply.write(exchange, this);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A streamed 200 answer: each chunk written and flushed on its own, then the end of the body. */
    static Reply stream(String contentType, List<String> chunks) {
        return (exchange, server) -> {
            exchange.getResponseHeaders().add("Content-Type", contentType);
            exchange.sendResponseHeaders(200, 0);
            OutputStream out = exchange.getResponseBody();
            for (String chunk : chunks) {
                out.write(chunk.getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        };
    }

    /** A plain answer with a status and a JSON body, as providers refuse requests. */
    static Reply status(int status, String json) {
        return (exchange, server) -> {
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
        };
    }

    /**
     * Streams the first chunks, waits until released, then writes {@code heartbeat} until a write fails because the
     * client closed the connection (reported through {@link #awaitClientGone}), for at most five seconds.
     */
    static Reply stall(String contentType, List<String> first, String heartbeat) {
        return (exchange, server) -> {
            exchange.getResponseHeaders().add("Content-Type", contentType);
            exchange.sendResponseHeaders(200, 0);
            OutputStream out = exchange.getResponseBody();
            for (String chunk : first) {
                out.write(chunk.getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            if (!server.released.await(10, TimeUnit.SECONDS)) {
                return;
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            try {
                while (System.nanoTime() < deadline) {
                    out.write(heartbeat.getBytes(StandardCharsets.UTF_8));
                    out.flush();
                }
            } catch (IOException gone) {
                server.clientGone.countDown();
            }
        };
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
