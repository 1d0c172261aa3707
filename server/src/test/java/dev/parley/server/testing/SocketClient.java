package dev.parley.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.client.ParleySocket;
import dev.parley.protocol.EventType;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * The client library's socket ({@link ParleySocket}) read the way tests read it: frame after frame in arrival order
 * ({@link #next}), each wait bounded by {@link #WAIT} and failing the test with what arrived so far.
 *
 * <p>Owned by the test thread that opened it: the read position {@link #cursor} is not shared.
 */
public final class SocketClient implements AutoCloseable {
    public static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration OPEN_WAIT = Duration.ofSeconds(5);

    private final ParleySocket socket;
    /** The index of the next frame {@link #next} returns. */
    private int cursor;

    private SocketClient(ParleySocket socket) {
        this.socket = socket;
    }

    /** Opens {@code /ws} with {@code Authorization: Bearer <token>}. */
    public static SocketClient open(TestApp app, String token) {
        return connect(app, "/ws", Map.of("Authorization", "Bearer " + token), List.of());
    }

    /** Opens {@code /ws} as {@code user}; its first frame, already read, must be {@code connection_established}. */
    public static SocketClient connected(TestApp app, TestUsers.User user) {
        SocketClient socket = open(app, user.accessToken());
        String first = socket.next().path("type").asText();
        if (!first.equals("connection_established")) {
            socket.close();
            throw new AssertionError("the socket opened with " + first + ", not connection_established");
        }
        return socket;
    }

    public static SocketClient connect(TestApp app, String pathAndQuery, Map<String, String> headers,
                                       List<String> subprotocols) {
        return connect(app.httpClient(), app.wsUri(pathAndQuery), headers, subprotocols);
    }

    /** Opens the socket; a refused upgrade fails with {@link ParleySocket.HandshakeRefused} as the cause. */
    public static SocketClient connect(HttpClient http, URI uri, Map<String, String> headers,
                                       List<String> subprotocols) {
        try {
            return new SocketClient(ParleySocket.connect(http, uri, headers, subprotocols, OPEN_WAIT));
        } catch (ParleySocket.HandshakeRefused e) {
            throw new IllegalStateException("the socket did not open: " + e.getMessage(), e);
        }
    }

    /** The subprotocol the server chose, or the empty string. */
    public String subprotocol() {
        return socket.subprotocol().orElse("");
    }

    public void send(String text) {
        socket.sendRaw(text);
    }

    /** Sends {@code {"type": type, "payload": payload or {}, "message_id": messageId?}}. */
    public void send(String type, ObjectNode payload, String messageId) {
        socket.send(type, payload, messageId);
    }

    public void send(String type, ObjectNode payload) {
        send(type, payload, null);
    }

    public void sendPong(ByteBuffer data) {
        socket.sendPong(data);
    }

    /** Drops the connection without a close handshake. */
    public void abort() {
        socket.abort();
    }

    /** The next frame, failing the test when none comes within {@link #WAIT}. */
    public JsonNode next() {
        return next(WAIT);
    }

    public JsonNode next(Duration wait) {
        try {
            JsonNode frame = socket.awaitIndexed(cursor, any -> true, wait).raw();
            cursor++;
            return frame;
        } catch (TimeoutException e) {
            throw new AssertionError("no frame within " + wait + "; received so far: " + summary(), e);
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
    public ParleySocket.Close awaitClose() {
        return awaitClose(WAIT);
    }

    public ParleySocket.Close awaitClose(Duration wait) {
        try {
            return socket.awaitClose(wait);
        } catch (TimeoutException e) {
            throw new AssertionError("the socket did not close within " + wait + "; received: " + summary(), e);
        }
    }

    public boolean isClosed() {
        return socket.isClosed();
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
        return frames.size() + " frames, last: " + parts + (socket.isClosed() ? ", closed" : "");
    }

    /** Every frame received so far. */
    public List<JsonNode> history() {
        return socket.frames().stream().map(ParleySocket.Received::raw).toList();
    }

    @Override
    public void close() {
        socket.close();
    }
}
