package dev.parley.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import java.net.URI;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A real WebSocket client (java.net.http) that records every frame it receives, for tests to await with timeouts.
 */
public final class SocketClient implements AutoCloseable {
    public static final Duration WAIT = Duration.ofSeconds(10);

    /** How the socket closed: the close code and reason, or 1006 when the connection just ended. */
    public record Close(int code, String reason) {
    }

    private final WebSocket ws;
    private final LinkedBlockingQueue<JsonNode> frames;
    private final CompletableFuture<Close> closed;
    private final List<JsonNode> history;

    private SocketClient(WebSocket ws, LinkedBlockingQueue<JsonNode> frames, CompletableFuture<Close> closed,
                         List<JsonNode> history) {
        this.ws = ws;
        this.frames = frames;
        this.closed = closed;
        this.history = history;
    }

    /** Opens {@code /ws} with {@code Authorization: Bearer <token>}. */
    public static SocketClient open(TestApp app, String token) {
        return connect(app, "/ws", Map.of("Authorization", "Bearer " + token), List.of());
    }

    public static SocketClient connect(TestApp app, String pathAndQuery, Map<String, String> headers,
                                       List<String> subprotocols) {
        return connect(app.httpClient(), app.wsUri(pathAndQuery), headers, subprotocols);
    }

    public static SocketClient connect(java.net.http.HttpClient http, URI uri, Map<String, String> headers,
                                       List<String> subprotocols) {
        LinkedBlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
        CompletableFuture<Close> closed = new CompletableFuture<>();
        List<JsonNode> history = Collections.synchronizedList(new ArrayList<>());
        WebSocket.Builder builder = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
        headers.forEach(builder::header);
        if (!subprotocols.isEmpty()) {
            builder.subprotocols(subprotocols.getFirst(), subprotocols.subList(1, subprotocols.size()).toArray(String[]::new));
        }
        WebSocket.Listener listener = new WebSocket.Listener() {
            private final StringBuilder text = new StringBuilder();

            @Override
            public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
                text.append(data);
                if (last) {
                    JsonNode frame = Json.parse(text.toString());
                    text.setLength(0);
                    history.add(frame);
                    frames.add(frame);
                }
                socket.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onBinary(WebSocket socket, ByteBuffer data, boolean last) {
                socket.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket socket, int statusCode, String reason) {
                closed.complete(new Close(statusCode, reason));
                return null;
            }

            @Override
            public void onError(WebSocket socket, Throwable error) {
                closed.complete(new Close(1006, String.valueOf(error)));
            }
        };
        try {
            WebSocket ws = builder.buildAsync(uri, listener).get(10, TimeUnit.SECONDS);
            return new SocketClient(ws, frames, closed, history);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("the socket did not open: " + e.getCause(), e);
        }
    }

    public String subprotocol() {
        return ws.getSubprotocol();
    }

    public WebSocket raw() {
        return ws;
    }

    public void send(String text) {
        ws.sendText(text, true).join();
    }

    /** Sends {@code {"type": type, "payload": payload, "message_id": messageId?}}. */
    public void send(String type, ObjectNode payload, String messageId) {
        ObjectNode message = Json.object();
        message.put("type", type);
        if (payload != null) {
            message.set("payload", payload);
        }
        if (messageId != null) {
            message.put("message_id", messageId);
        }
        send(Json.write(message));
    }

    public void send(String type, ObjectNode payload) {
        send(type, payload, null);
    }

    /** The next frame, failing the test when none comes within {@link #WAIT}. */
    public JsonNode next() {
        return next(WAIT);
    }

    public JsonNode next(Duration wait) {
        try {
            JsonNode frame = frames.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
            if (frame == null) {
                throw new AssertionError("no frame within " + wait + "; received so far: " + summary());
            }
            return frame;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Skips frames until one of the given type arrives, and returns it. */
    public JsonNode await(String type) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no " + type + " frame within " + WAIT + "; received: " + summary());
            }
            JsonNode frame = next(Duration.ofNanos(left));
            if (type.equals(frame.path("type").asText())) {
                return frame;
            }
        }
    }

    /** Collects the frames of one run, in arrival order, up to and including its last event. */
    public List<JsonNode> runEvents(String runId) {
        List<JsonNode> events = new ArrayList<>();
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("run " + runId + " did not end within " + WAIT + "; received: " + summary());
            }
            JsonNode frame = next(Duration.ofNanos(left));
            if (runId.equals(frame.path("run_id").asText(null))) {
                events.add(frame);
                if (EventType.isTerminal(frame.path("type").asText())) {
                    return events;
                }
            }
        }
    }

    /** Waits for the server to close the socket. */
    public Close awaitClose() {
        return awaitClose(WAIT);
    }

    public Close awaitClose(Duration wait) {
        try {
            return closed.get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError("the socket did not close within " + wait + "; received: " + summary());
        }
    }

    public boolean isClosed() {
        return closed.isDone();
    }

    /** The types (and seqs) of the last frames received, short enough for a failure message. */
    public String summary() {
        List<JsonNode> frames = history();
        List<String> parts = new ArrayList<>();
        for (JsonNode frame : frames.subList(Math.max(0, frames.size() - 30), frames.size())) {
            String part = frame.path("type").asText();
            if (frame.has("seq")) {
                part += "#" + frame.path("seq").asLong();
            }
            if (frame.path("type").asText().equals("error")) {
                part += "(" + frame.path("data").path("error").path("code").asText() + ")";
            }
            parts.add(part);
        }
        return frames.size() + " frames, last: " + parts + (closed.isDone() ? ", closed " + closed.getNow(null) : "");
    }

    /** Every frame received so far. */
    public List<JsonNode> history() {
        synchronized (history) {
            return List.copyOf(history);
        }
    }

    @Override
    public void close() {
        if (!closed.isDone()) {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").exceptionally(e -> null);
            try {
                closed.get(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                ws.abort();
            }
        }
    }
}
