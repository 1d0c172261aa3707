package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.CloseCodes;
import dev.parley.protocol.ErrorBody;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.auth.Principal;
import dev.parley.server.failure.Failure;
import dev.parley.server.failure.Failures;
import dev.parley.server.fanout.Envelope;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.run.RunLog;
import dev.parley.server.run.StoredEvent;
import io.helidon.common.buffers.BufferData;
import io.helidon.webserver.ConnectionContext;
import io.helidon.websocket.WsSession;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One open socket: its credentials, its outgoing queue and writer, its liveness, and the bookkeeping that keeps the
 * seam between a resume's replay and the live events free of gaps and duplicates.
 *
 * <p>Threads: Helidon's connection thread ({@link #reader}) delivers client frames one at a time, so the fragment
 * buffer and the rate limiter are touched by it alone, and resume runs on it. Events arrive from the fan-out on the
 * publishing threads ({@link #deliver}) and only ever go onto the bounded {@link SendQueue}; a virtual thread of this
 * socket that runs while frames wait ({@link #writer}) is the only one that writes data frames, so a client that does
 * not read blocks nobody but itself and is closed with 1013 once its queue is full. The endpoint's one scheduler
 * calls {@link #tick} for heartbeats and token expiry, whose timing is {@link SocketLiveness}'s. The seam between a
 * resume's replay and the live events is {@link ResumeSeam}, which guards itself, and frames are joined into messages
 * by a {@link FrameAssembler}; the rest is volatile or atomic.
 *
 * <p>Helidon tells the listener nothing when the TCP connection dies without a close frame; the connection thread
 * then simply ends. {@link #tick} notices that and releases the socket, and so does a new handshake of the same user.
 *
 * <p>It stays one class of a little over 500 lines because its close state machine is what every other part is
 * written against: the reader, the writer, the fan-out's threads and the scheduler all end the socket through the one
 * {@code closing} flag, the one {@link SendQueue} and {@code release()}, which a split would expose to each part.
 */
final class SocketSession {
    static final Duration CLOSE_GRACE = Duration.ofSeconds(5);
    static final Duration SLOW_CONSUMER_GRACE = Duration.ofSeconds(10);
    /** The socket whose connection this thread reads (each connection has its own virtual thread). */
    private static final ThreadLocal<SocketSession> ON_THIS_THREAD = new ThreadLocal<>();
    /** The close reason (and metric label) of a frame that breaks RFC 6455. */
    static final String PROTOCOL_ERROR = "protocol_error";
    static final Duration REPLAY_WAIT = Duration.ofSeconds(10);
    private static final Logger LOG = LoggerFactory.getLogger(SocketSession.class);

    final String connectionId;
    private final WsSession ws;
    private final Thread reader;
    private final SocketRuntime runtime;
    private final SendQueue queue;
    private final TokenBucket bucket;
    private final int maxMessageBytes;
    private final boolean mirrorPayload;
    private final SocketLiveness liveness;
    private final AtomicBoolean closing = new AtomicBoolean();
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile Principal principal;
    private volatile boolean opened;
    private volatile Fanout.Subscription subscription;
    private volatile String closeReason;
    /**
     * The running writer, null when none runs: it ends once its queue is empty ({@link SendQueue#take}) and lets go of
     * itself here, so an idle socket holds no finished thread; the next frame starts another.
     */
    private final AtomicReference<Thread> writer = new AtomicReference<>();

    private final FrameAssembler frames; // reader thread only
    private final ResumeSeam seam;
    private final ResumeSeam.Output output = new ResumeSeam.Output() {
        @Override
        public boolean offer(String wire) {
            return queue.offer(wire);
        }

        @Override
        public void put(String wire) throws InterruptedException {
            enqueuePaced(wire);
        }
    };

    SocketSession(String connectionId, Principal principal, WsSession ws, Thread reader, SocketRuntime runtime) {
        this.connectionId = connectionId;
        this.principal = principal;
        this.ws = ws;
        this.reader = reader;
        this.runtime = runtime;
        this.queue = new SendQueue(runtime.config().sendQueueBytes(), this::startWriter);
        this.bucket = new TokenBucket(runtime.clock(), runtime.config().rateLimitMessages(),
                runtime.config().rateLimitWindow(), runtime.config().rateLimitBurst());
        this.maxMessageBytes = runtime.config().maxFrameBytes();
        this.mirrorPayload = runtime.config().mirrorPayload();
        this.frames = new FrameAssembler(maxMessageBytes);
        this.seam = new ResumeSeam(runtime.config().sendQueueBytes(), mirrorPayload);
        this.liveness = new SocketLiveness(this, runtime);
    }

    /** The socket whose connection the calling thread reads, if it reads one. */
    static Optional<SocketSession> onThisThread() {
        return Optional.ofNullable(ON_THIS_THREAD.get());
    }

    /** Sends {@code connection_established}, subscribes to the user's events, and lets the writer start. */
    void open() {
        if (Thread.currentThread() == reader) {
            ON_THIS_THREAD.set(this);
        }
        ObjectNode data = Json.object();
        data.put("connection_id", connectionId);
        data.put("user_id", principal.userId());
        data.put("server_time", ServerEvent.formatTimestamp(runtime.clock().instant()));
        data.put("heartbeat_interval_ms", liveness.heartbeatMillis());
        data.put("max_message_bytes", maxMessageBytes);
        data.put("protocol_version", 1);
        data.put("event", EventType.CONNECTION_ESTABLISHED);
        data.put("connection_ready", true);
        send(EventType.CONNECTION_ESTABLISHED, data);
        opened = true; // from here on the scheduler may queue frames: connection_established is already first
        // Writing starts once the socket is subscribed, so a client that has read connection_established gets
        // every event published from then on (a run started from another tab right after it, say).
        try {
            subscription = runtime.fanout().subscribe(principal.userId(), this::deliver);
        } finally {
            queue.open();
        }
        if (closing.get()) {
            quietlyUnsubscribe();
        }
    }

    Principal principal() {
        return principal;
    }

    String userId() {
        return principal.userId();
    }

    // ---- inbound (reader thread) ----

    void onText(String text, boolean last) {
        liveness.inbound();
        if (closing.get()) {
            return;
        }
        String message = frames.add(text, last, () ->
                closeWith(CloseCodes.MESSAGE_TOO_BIG, ErrorCode.MESSAGE_TOO_LARGE.code(), false, CLOSE_GRACE));
        if (message == null) {
            return;
        }
        // Helidon decodes text frames leniently, replacing bytes that are not UTF-8 with U+FFFD: its presence is
        // the only sign of an invalid frame we get. A client that means U+FFFD must send it escaped (\ufffd).
        if (message.indexOf('\uFFFD') >= 0) {
            close(ErrorCode.INVALID_UTF8, CLOSE_GRACE);
            return;
        }
        long retryAfter = bucket.tryTake();
        runtime.messages().handle(this, message, retryAfter);
    }

    void onBinary() {
        liveness.inbound();
        if (!closing.get()) {
            close(ErrorCode.BINARY_NOT_SUPPORTED, CLOSE_GRACE);
        }
    }

    void onPing(BufferData data) {
        liveness.inbound();
        byte[] bytes = new byte[data.available()];
        data.read(bytes);
        queue.pong(bytes);
    }

    void onPong() {
        liveness.inbound();
    }

    /**
     * The client closed the socket. Helidon echoes 1000 whatever the client sent; a close code that RFC 6455 does not
     * allow on the wire, or a reason that is not UTF-8, is answered here first with 1002 or 1007, and Helidon then
     * sends nothing more.
     */
    void onPeerClose(int code, String reason) {
        boolean validCode = code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006
                || code >= 3000 && code <= 4999;
        if (!validCode || reason != null && reason.indexOf('\uFFFD') >= 0) {
            closing.set(true);
            closeReason = validCode ? ErrorCode.INVALID_UTF8.code() : PROTOCOL_ERROR;
            queue.shutDown();
            awaitWriter();
            release();
            ws.close(validCode ? CloseCodes.INVALID_PAYLOAD : CloseCodes.PROTOCOL_ERROR, closeReason);
            return;
        }
        onPeerCloseValid(code);
    }

    /**
     * The client broke the WebSocket protocol in a way the web server does not answer with a close frame (a reserved
     * opcode makes Helidon 4.5 fail the connection as an HTTP request): close 1002 now, then end the TCP connection,
     * so that nothing else is written to it. Runs on the connection's thread.
     */
    void protocolError(String detail) {
        if (closeWith(CloseCodes.PROTOCOL_ERROR, PROTOCOL_ERROR, true, CLOSE_GRACE)) {
            LOG.info("Socket {} of user {} broke the WebSocket protocol: {}", connectionId, userId(), detail);
        }
        awaitWriter();
        forceCloseIfOpen();
    }

    /**
     * Starts a writer (the queue calls this when a frame waits and none runs). It is recorded before it starts, so
     * that a writer which ends at once clears its own entry and never leaves a finished thread behind.
     */
    private void startWriter() {
        Thread started = Thread.ofVirtual().name("parley-ws-writer-" + connectionId).unstarted(this::writeLoop);
        writer.set(started);
        started.start();
    }

    /** Waits a little for the writer to send what it was given last (a close frame). */
    private void awaitWriter() {
        Thread current = writer.get();
        if (current == null || current == Thread.currentThread()) {
            return;
        }
        try {
            current.join(Duration.ofSeconds(1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void onPeerCloseValid(int code) {
        if (closing.compareAndSet(false, true)) {
            closeReason = switch (code) {
                // The codes a client may send are many; each would be a new metric series.
                case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011 -> "client_" + code;
                default -> "client_other";
            };
        }
        queue.shutDown();
        release();
    }

    /**
     * Handling a frame threw what no layer answered: the socket is closed with 1011 {@code internal}, and the request
     * id in the close reason names the logged stack trace. Never a silent drop.
     */
    void failed(RuntimeException failure) {
        Failure why = Failures.internal(failure, null, LOG,
                "Socket " + connectionId + " of user " + userId() + " on a frame");
        closeWith(why.code().closeCode(), why.code().code(), why.code().code() + " " + why.requestId(), false,
                CLOSE_GRACE);
    }

    void onError(Throwable failure) {
        LOG.debug("Socket {} failed", connectionId, failure);
        connectionLost();
    }

    // ---- outbound ----

    /** Sends an event that is not part of a run. Never blocks. */
    void send(String type, ObjectNode data) {
        enqueueLive(frame(ServerEvent.of(type, runtime.clock().instant(), data)));
    }

    /** Sends an {@code error} event answering a client message; the socket stays open. */
    void sendError(ErrorCode code, String message, Map<String, Object> details, String inReplyTo) {
        ObjectNode data = Json.object();
        data.set("error", ErrorBody.errorObject(code, message, details, null));
        if (inReplyTo == null) {
            data.putNull("in_reply_to");
        } else {
            data.put("in_reply_to", inReplyTo);
        }
        send(EventType.ERROR, data);
    }

    /** An event from the fan-out: sent at once, or held while a resume of its run replays. Called on any thread. */
    void deliver(Envelope event) {
        if (closing.get()) {
            return;
        }
        if (!event.isRunEvent()) {
            enqueueLive(event.wire(mirrorPayload));
        } else if (!seam.live(event, output)) {
            slowConsumer();
        }
    }

    /** The frame of an event that is not a run's, as this socket sends frames. */
    private String frame(ServerEvent event) {
        return framed(event.toWire());
    }

    /** A written frame as this socket sends frames: with {@code data} mirrored as {@code payload} or without. */
    private String framed(String wire) {
        return mirrorPayload ? ServerEvent.withPayloadMirror(wire) : wire;
    }

    private void enqueueLive(String wire) {
        if (!queue.offer(wire)) {
            slowConsumer();
        }
    }

    /** Queues a frame for the reader's own replies during a resume, waiting for room rather than closing. */
    private void enqueuePaced(String wire) throws InterruptedException {
        if (!queue.put(wire, REPLAY_WAIT)) {
            slowConsumer();
            throw new InterruptedException("socket " + connectionId + " stopped reading during a replay");
        }
    }

    private void writeLoop() {
        FrameWriter frames = FrameWriter.of(ws);
        List<SendQueue.Item> items = new ArrayList<>();
        List<SendQueue.Text> texts = new ArrayList<>();
        try {
            while (queue.take(items, FrameWriter.MAX_BATCH_BYTES)) {
                switch (items.getFirst()) {
                    case SendQueue.Text ignored -> {
                        items.forEach(item -> texts.add((SendQueue.Text) item));
                        frames.send(texts);
                        texts.forEach(text -> runtime.metrics().sent(text.type()));
                        texts.clear();
                    }
                    case SendQueue.Pong pong -> ws.pong(BufferData.create(pong.data()));
                    case SendQueue.Close close -> {
                        ws.close(close.code(), close.reason());
                        return;
                    }
                }
                items.clear();
            }
        } catch (RuntimeException e) {
            // The connection broke under the writer (peer gone, or forced closed).
            LOG.debug("Socket {} writer stopped: {}", connectionId, e.toString());
            connectionLost();
        } finally {
            writer.compareAndSet(Thread.currentThread(), null);
        }
    }

    // ---- resume ----

    /**
     * Replays every event of the run after {@code lastSeq}, then {@code resumed}, then lets the run's live events
     * through: live events that arrive during the replay are held, and sent after it unless the replay already
     * carried them, so the seam has neither a gap nor a duplicate. (Live events that reached the socket before the
     * resume was handled are replayed too; the contract lets clients drop those by {@code seq}.)
     */
    void resume(String runId, long lastSeq) {
        seam.begin(runId);
        boolean drained = false;
        try {
            RunLog log;
            try {
                log = runtime.runs().log(userId(), runId, lastSeq);
            } catch (ProtocolException e) {
                ObjectNode data = Json.object();
                data.put("run_id", runId);
                data.put("reason", e.code().code());
                data.put("message", e.getMessage());
                seam.finish(runId, lastSeq, output);
                drained = true;
                send(EventType.RESUME_FAILED, data);
                return;
            }
            long sentMax = lastSeq;
            int replayed = 0;
            for (StoredEvent event : log.events()) {
                enqueuePaced(framed(event.wire()));
                replayed++;
                sentMax = Math.max(sentMax, event.seq());
            }
            ObjectNode data = Json.object();
            data.put("run_id", runId);
            data.put("replayed", replayed);
            data.put("complete", log.complete());
            data.put("last_seq", sentMax);
            enqueuePaced(frame(ServerEvent.of(EventType.RESUMED, runtime.clock().instant(), data)));
            seam.finish(runId, sentMax, output);
            drained = true;
            if (log.complete()) {
                seam.forget(runId);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (!drained) {
                seam.abandon(runId);
            }
        }
    }

    // ---- credentials ----

    /** Replaces the socket's credentials with a newer token of the same user; the expiry warning starts over. */
    void refresh(Principal next) {
        principal = next;
        liveness.refreshed();
    }

    // ---- liveness and expiry (scheduler thread; the timing is SocketLiveness's) ----

    void tick(Instant now) {
        if (closing.get() || !opened) {
            return;
        }
        if (!reader.isAlive()) {
            connectionLost();
            return;
        }
        liveness.tick(now);
    }

    /** Whether the connection thread is gone while the socket still counts as open (an unannounced disconnect). */
    boolean lostWithoutClose() {
        return !reader.isAlive() && !released.get();
    }

    // ---- closing ----

    /** Closes with the error's close code and its code as the reason, after the frames already queued. */
    void close(ErrorCode code, Duration grace) {
        closeWith(code.closeCode(), code.code(), false, grace);
    }

    /** Closes a socket that could not be opened, with 1013 so that its client tries again. */
    void failOpen() {
        if (queue.opened()) {
            close(ErrorCode.OVERLOADED, CLOSE_GRACE);
            return;
        }
        closing.set(true);
        closeReason = ErrorCode.OVERLOADED.code();
        queue.shutDown();
        release();
        ws.close(ErrorCode.OVERLOADED.closeCode(), ErrorCode.OVERLOADED.code());
    }

    /** The graceful end at shutdown: {@code server_shutdown}, then 1012 {@code service_restart}. */
    void shutdown(long reconnectAfterMillis) {
        if (closing.get()) {
            return;
        }
        ObjectNode data = Json.object();
        data.put("reconnect_after_ms", reconnectAfterMillis);
        send(EventType.SERVER_SHUTDOWN, data);
        close(ErrorCode.SERVICE_RESTART, CLOSE_GRACE);
    }

    private void slowConsumer() {
        if (closeWith(ErrorCode.SLOW_CONSUMER.closeCode(), ErrorCode.SLOW_CONSUMER.code(), true, SLOW_CONSUMER_GRACE)) {
            LOG.warn("Socket {} of user {} closed: slow consumer (send queue of {} bytes full)", connectionId, userId(),
                    runtime.config().sendQueueBytes());
        }
    }

    private boolean closeWith(int code, String reason, boolean dropQueued, Duration grace) {
        return closeWith(code, reason, reason, dropQueued, grace);
    }

    /** {@code reason} is a code from a known set (metrics count closes by it); {@code wireReason} goes to the client. */
    private boolean closeWith(int code, String reason, String wireReason, boolean dropQueued, Duration grace) {
        if (!closing.compareAndSet(false, true)) {
            return false;
        }
        closeReason = reason;
        if (dropQueued) {
            queue.abort(code, wireReason);
        } else {
            queue.closeAfterPending(code, wireReason);
        }
        release();
        runtime.scheduler().schedule(this::forceCloseIfOpen, grace.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("Socket {} of user {} closing: {} {}", connectionId, userId(), code, reason);
        return true;
    }

    /** The connection is gone without a close handshake (or the writer failed): let everything go. */
    void connectionLost() {
        if (closing.compareAndSet(false, true)) {
            closeReason = "connection_lost";
        }
        queue.shutDown();
        release();
        forceCloseIfOpen();
    }

    /** Closes the TCP connection of a client that did not complete the close handshake in time. */
    private void forceCloseIfOpen() {
        queue.shutDown();
        if (reader.isAlive()) {
            try {
                if (ws.socketContext() instanceof ConnectionContext connection) {
                    connection.serverSocket().close();
                }
            } catch (RuntimeException e) {
                LOG.debug("Socket {} could not be closed: {}", connectionId, e.toString());
            }
        }
    }

    /** Stops delivering events, frees the user's socket slot and leaves the registry; runs once. */
    private void release() {
        if (!released.compareAndSet(false, true)) {
            return;
        }
        quietlyUnsubscribe();
        runtime.registry().remove(this);
        runtime.metrics().closed(closeReason == null ? "unknown" : closeReason);
    }

    private void quietlyUnsubscribe() {
        Fanout.Subscription current = subscription;
        if (current != null) {
            current.close();
        }
    }

    /** Waits until the writer has sent everything queued up to and including the close frame. */
    boolean awaitFlushed(Duration timeout) throws InterruptedException {
        Thread current = writer.get();
        return current == null || current.join(timeout);
    }
}
