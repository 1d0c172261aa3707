package dev.parley.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.protocol.ServerEvent;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * One WebSocket to a Parley server. Every received frame is kept in arrival order with the time it arrived; callers
 * wait for frames with {@link #await} (always with a timeout) and for the close with {@link #awaitClose}.
 */
public final class ParleySocket implements AutoCloseable {
    /**
     * A frame as received: the parsed event and the client's {@code System.nanoTime()} at arrival. Frames are read
     * leniently so that a client (the validator above all) can report what a faulty server sent: a frame that is not
     * JSON keeps its text as a {@link TextNode} in {@code raw} and has the empty type, and a missing or malformed
     * {@code timestamp} leaves {@code event.timestamp()} null.
     */
    public record Received(ServerEvent event, JsonNode raw, long arrivedNanos) {
        public String type() {
            return event.type();
        }

        /** Whether the frame was a JSON object. */
        public boolean readable() {
            return raw.isObject();
        }

        /** Whether the envelope carries a {@code seq} field, as every event of a run must. */
        public boolean hasSeq() {
            return raw.hasNonNull("seq") && raw.get("seq").canConvertToLong();
        }

        /** The frame as the server sent it (JSON text, or the raw text of a frame that is not JSON). */
        public String text() {
            return raw.isTextual() ? raw.asText() : Json.write(raw);
        }
    }

    /** The close frame the server sent (or {@code code} -1 when the connection broke without one). */
    public record Close(int code, String reason) {
    }

    /** A refused upgrade: the HTTP status and body the server answered instead of switching protocols. */
    public static final class HandshakeRefused extends Exception {
        private final int status;
        private final String body;

        HandshakeRefused(int status, String body) {
            super("upgrade refused with HTTP " + status + ": " + body);
            this.status = status;
            this.body = body;
        }

        public int status() {
            return status;
        }

        public String body() {
            return body;
        }
    }

    private final WebSocket webSocket;
    private final Listener listener;
    private final long openedNanos;
    private final long connectedNanos;

    private ParleySocket(WebSocket webSocket, Listener listener, long openedNanos, long connectedNanos) {
        this.webSocket = webSocket;
        this.listener = listener;
        this.openedNanos = openedNanos;
        this.connectedNanos = connectedNanos;
    }

    /** Opens a socket at {@code base} + {@code path} (such as {@code /ws}) with the given credentials. */
    public static ParleySocket connect(HttpClient client, URI base, String path, Credentials credentials, String origin,
                                       Duration timeout) throws HandshakeRefused {
        String wsBase = base.toString().replaceFirst("^http", "ws").replaceAll("/+$", "");
        String uri = wsBase + path;
        Map<String, String> headers = new LinkedHashMap<>();
        List<String> subprotocols = List.of();
        switch (credentials) {
            case Credentials.BearerHeader bearer -> headers.put("Authorization", "Bearer " + bearer.token());
            case Credentials.Subprotocol sub -> subprotocols = List.of("jwt-auth", sub.encoded());
            case Credentials.Ticket ticket -> uri += (uri.contains("?") ? "&" : "?") + "ticket="
                    + URLEncoder.encode(ticket.ticket(), StandardCharsets.UTF_8);
            case Credentials.None none -> {
            }
        }
        if (origin != null) {
            headers.put("Origin", origin);
        }
        return connect(client, URI.create(uri), headers, subprotocols, timeout);
    }

    /**
     * Opens a socket at {@code uri} ({@code ws://} or {@code wss://}) with exactly the given upgrade headers and
     * offered subprotocols, most preferred first: for callers that probe the handshake itself.
     */
    public static ParleySocket connect(HttpClient client, URI uri, Map<String, String> headers,
                                       List<String> subprotocols, Duration timeout) throws HandshakeRefused {
        Listener listener = new Listener();
        WebSocket.Builder builder = client.newWebSocketBuilder().connectTimeout(timeout);
        headers.forEach(builder::header);
        if (!subprotocols.isEmpty()) {
            builder.subprotocols(subprotocols.getFirst(),
                    subprotocols.subList(1, subprotocols.size()).toArray(String[]::new));
        }
        long started = System.nanoTime();
        try {
            WebSocket socket = builder.buildAsync(uri, listener).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            long opened = listener.openedNanos;
            return new ParleySocket(socket, listener, started, opened != 0 ? opened : System.nanoTime());
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof CompletionException c && c.getCause() != null ? c.getCause() : e.getCause();
            if (cause instanceof WebSocketHandshakeException refused) {
                Object body = refused.getResponse().body();
                throw new HandshakeRefused(refused.getResponse().statusCode(), body == null ? "" : body.toString());
            }
            throw new IllegalStateException("cannot open " + uri + ": " + cause, cause);
        } catch (TimeoutException e) {
            throw new IllegalStateException("opening " + uri + " took longer than " + timeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** {@code System.nanoTime()} when the opening handshake was started. */
    public long openedNanos() {
        return openedNanos;
    }

    /** {@code System.nanoTime()} when the server had accepted the upgrade (the handshake's round trip ended). */
    public long connectedNanos() {
        return connectedNanos;
    }

    /** How long the opening handshake took. */
    public Duration handshakeTime() {
        return Duration.ofNanos(connectedNanos - openedNanos);
    }

    public Optional<String> subprotocol() {
        String selected = webSocket.getSubprotocol();
        return selected == null || selected.isEmpty() ? Optional.empty() : Optional.of(selected);
    }

    /**
     * Reads one frame's text as a socket does, leniently (see {@link Received}); also suits the events that
     * {@code GET /api/runs/{id}/events} returns, which are the same objects.
     */
    public static Received read(String text, long arrivedNanos) {
        return Listener.read(text, arrivedNanos);
    }

    /** Sends {@code {"type", "payload", "message_id"?}}. */
    public void send(String type, ObjectNode payload, String messageId) {
        ObjectNode frame = Json.object().put("type", type);
        frame.set("payload", payload == null ? Json.object() : payload);
        if (messageId != null) {
            frame.put("message_id", messageId);
        }
        sendRaw(Json.write(frame));
    }

    public void sendRaw(String text) {
        webSocket.sendText(text, true).join();
    }

    /** Waits for the first frame, at or after index {@code from}, that matches; returns its index and frame. */
    public Received await(Predicate<Received> match, Duration timeout) throws TimeoutException {
        return awaitIndexed(0, match, timeout);
    }

    public Received awaitIndexed(int from, Predicate<Received> match, Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (listener) {
            while (true) {
                for (int i = from; i < listener.frames.size(); i++) {
                    if (match.test(listener.frames.get(i))) {
                        return listener.frames.get(i);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || listener.close.isDone()) {
                    if (!listener.close.isDone() || left <= 0) {
                        throw new TimeoutException("no matching frame within " + timeout.toMillis() + " ms; received "
                                + types());
                    }
                    throw new TimeoutException("socket closed (" + listener.close.getNow(null) + ") before a matching frame; received "
                            + types());
                }
                try {
                    listener.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
        }
    }

    public Received awaitType(String type, Duration timeout) throws TimeoutException {
        return await(frame -> frame.type().equals(type), timeout);
    }

    /** Every frame received so far, in order. */
    public List<Received> frames() {
        synchronized (listener) {
            return new ArrayList<>(listener.frames);
        }
    }

    /** How many frames have arrived so far; an index to pass to {@link #awaitIndexed} to wait for later ones. */
    public int frameCount() {
        synchronized (listener) {
            return listener.frames.size();
        }
    }

    public List<String> types() {
        return frames().stream().map(Received::type).toList();
    }

    public Close awaitClose(Duration timeout) throws TimeoutException {
        try {
            return listener.close.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            return new Close(-1, String.valueOf(e.getCause()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    public boolean isClosed() {
        return listener.close.isDone();
    }

    /** Sends an unsolicited pong frame (RFC 6455 allows one as a one-way heartbeat); the server answers nothing. */
    public void sendPong(ByteBuffer data) {
        webSocket.sendPong(data).join();
    }

    /** Drops the connection without a close handshake, as a lost network would. */
    public void abort() {
        webSocket.abort();
    }

    /**
     * Closes with the close handshake: sends a normal close and waits (up to two seconds) for the server's answering
     * close before the connection is dropped.
     */
    @Override
    public void close() {
        if (!webSocket.isOutputClosed()) {
            try {
                webSocket.sendClose(WebSocket.NORMAL_CLOSURE, "").get(2, TimeUnit.SECONDS);
                listener.close.get(2, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                webSocket.abort();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                webSocket.abort();
            }
        }
        webSocket.abort();
    }

    private static final class Listener implements WebSocket.Listener {
        private final List<Received> frames = new CopyOnWriteArrayList<>();
        private final CompletableFuture<Close> close = new CompletableFuture<>();
        private final StringBuilder partial = new StringBuilder();
        /** When the handshake completed: onOpen runs before any frame is delivered. */
        private volatile long openedNanos;

        @Override
        public void onOpen(WebSocket webSocket) {
            openedNanos = System.nanoTime();
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                long now = System.nanoTime();
                Received received = read(text, now);
                synchronized (this) {
                    frames.add(received);
                    notifyAll();
                }
            }
            webSocket.request(1);
            return null;
        }

        private static Received read(String text, long arrivedNanos) {
            JsonNode raw;
            try {
                raw = Json.parse(text);
            } catch (ProtocolException e) {
                return new Received(new ServerEvent("", null, Json.object(), null, null, 0, null), TextNode.valueOf(text),
                        arrivedNanos);
            }
            if (!raw.isObject()) {
                return new Received(new ServerEvent("", null, Json.object(), null, null, 0, null), raw, arrivedNanos);
            }
            JsonNode data = raw.has("data") ? raw.get("data") : raw.get("payload");
            return new Received(new ServerEvent(
                    raw.path("type").asText(""),
                    timestamp(raw.path("timestamp").asText("")),
                    data instanceof ObjectNode object ? object : Json.object(),
                    raw.hasNonNull("thread_id") ? raw.get("thread_id").asText() : null,
                    raw.hasNonNull("run_id") ? raw.get("run_id").asText() : null,
                    raw.path("seq").asLong(0),
                    raw.hasNonNull("agent_name") ? raw.get("agent_name").asText() : null), raw, arrivedNanos);
        }

        private static Instant timestamp(String text) {
            try {
                return Instant.parse(text);
            } catch (DateTimeParseException e) {
                return null;
            }
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            synchronized (this) {
                close.complete(new Close(statusCode, reason));
                notifyAll();
            }
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            synchronized (this) {
                close.complete(new Close(-1, String.valueOf(error)));
                notifyAll();
            }
        }
    }
}
