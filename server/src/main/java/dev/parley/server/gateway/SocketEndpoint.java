package dev.parley.server.gateway;

import dev.parley.protocol.CloseCodes;
import dev.parley.protocol.ErrorCode;
import dev.parley.server.auth.Revocations;
import dev.parley.server.auth.SocketTickets;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.db.Sql;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.fanout.SocketCounter;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import dev.parley.server.run.RunService;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.websocket.WsConfig;
import io.helidon.webserver.websocket.WsRouting;
import io.helidon.websocket.WsSession;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WebSocket endpoint ({@code /ws}, alias {@code /api/v1/websocket}) and its ticket route: the handshake filter,
 * the per-connection listeners, the registry of open sockets, and the one scheduler that drives every socket's
 * heartbeat, token expiry and forced closes. Closes sockets of a revoked token family at once, and at shutdown sends
 * every socket {@code server_shutdown} and closes it with 1012.
 */
public final class SocketEndpoint implements AutoCloseable {
    static final Duration TICKET_PURGE_EVERY = Duration.ofMinutes(1);
    private static final Logger LOG = LoggerFactory.getLogger(SocketEndpoint.class);

    /** What the endpoint needs from the rest of the server. */
    public record Dependencies(Config config, TokenVerifier verifier, Revocations revocations, Sql sql, RunService runs,
                               ConversationStore conversations, Fanout fanout, SocketCounter counter,
                               Lifecycle lifecycle, Metrics metrics, Clock clock) {
    }

    private final Config config;
    private final Clock clock;
    private final SocketRegistry registry;
    private final SocketTickets tickets;
    private final SocketHandshake handshake;
    private final Origins origins;
    private final SocketRuntime runtime;
    private final SocketMetrics metrics;
    private final TokenVerifier verifier;
    private final ScheduledExecutorService scheduler;
    private final Revocations.Subscription revocations;

    public SocketEndpoint(Dependencies dependencies) {
        this.config = dependencies.config();
        this.clock = dependencies.clock();
        this.verifier = dependencies.verifier();
        Config.Socket socket = config.socket();
        this.registry = new SocketRegistry(dependencies.counter(), socket.maxSocketsPerUser());
        this.metrics = new SocketMetrics(dependencies.metrics(), registry::size);
        this.tickets = new SocketTickets(dependencies.sql(), clock);
        this.origins = new Origins(config.server().allowedOrigins());
        this.handshake = new SocketHandshake(verifier, tickets, registry, origins, dependencies.lifecycle(), metrics);
        // Its own thread, not the process's housekeeping one: every socket's heartbeat and forced close hangs on its
        // tick, which must not wait behind a purge or a sweep stuck on the database.
        this.scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("parley-sockets").factory());
        ClientMessages messages = new ClientMessages(dependencies.runs(), dependencies.conversations(), verifier,
                metrics, clock);
        this.runtime = new SocketRuntime(socket, clock, scheduler, registry, messages, dependencies.fanout(),
                dependencies.runs(), metrics);
        this.revocations = dependencies.revocations().onFamilyRevoked(this::familyRevoked);
        long tick = Math.clamp(socket.heartbeatInterval().toMillis() / 5, 50, 1000);
        scheduler.scheduleAtFixedRate(this::tick, tick, tick, TimeUnit.MILLISECONDS);
        scheduler.scheduleWithFixedDelay(this::quietlyPurgeTickets, TICKET_PURGE_EVERY.toMillis(),
                TICKET_PURGE_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Adds the handshake filter, the ticket route, the socket routes and the WebSocket settings to the server. */
    void install(HttpRouting.Builder routing, HttpRules routes, WebServerConfig.Builder server) {
        routing.addFilter(handshake::filter);
        routes.register(new TicketRoutes(tickets, verifier, config.server()));
        WsRouting.Builder sockets = WsRouting.builder();
        for (String path : SocketHandshake.PATHS) {
            sockets.endpoint(path, () -> new SocketListener(this));
        }
        server.addRouting(sockets);
        server.addProtocol(WsConfig.builder()
                .name("websocket")
                .maxFrameLength(helidonFrameLimit(config.socket().maxFrameBytes()))
                .origins(origins.configured())
                .build());
        // A socket is idle for Helidon when the client sends nothing; the heartbeat timeout decides that, not Helidon.
        Duration idle = config.socket().heartbeatInterval().multipliedBy(4);
        server.idleConnectionTimeout(idle.compareTo(Duration.ofMinutes(5)) > 0 ? idle : Duration.ofMinutes(5));
    }

    /** Helidon checks the Origin before routing and answers 403 itself: this gives that answer the contract's body. */
    DirectHandler forbiddenOriginHandler() {
        return (request, type, status, headers, message) -> {
            metrics.refused(ErrorCode.FORBIDDEN_ORIGIN.code());
            return DirectHandler.TransportResponse.builder()
                    .status(status)
                    .header(HeaderNames.CONTENT_TYPE, "application/json")
                    .header(HeaderNames.CACHE_CONTROL, "no-store")
                    .entity(SocketHandshake.forbiddenOriginBody())
                    .build();
        };
    }

    /**
     * Helidon reads a whole frame into memory before the listener sees it, and refuses a longer one itself (1009,
     * with its own reason text). It gets a higher limit than ours, so that a frame a little over our limit is
     * refused here with the contract's reason, while Helidon's limit still bounds the memory one frame can take.
     */
    static int helidonFrameLimit(int maxFrameBytes) {
        return (int) Math.min(Integer.MAX_VALUE - 8L, Math.max(4L * maxFrameBytes, 1_048_576L));
    }

    /**
     * Opens the socket of an accepted handshake. A socket without its handshake (which the filter makes impossible)
     * closes with 1008; a failure while opening closes with 1013 so that the client retries: never 1011 at accept.
     */
    SocketSession open(SocketHandshake.Accepted accepted, WsSession ws) {
        String socketKey = ws.socketContext().socketId() + " " + ws.socketContext().childSocketId();
        if (accepted == null || !accepted.socketKey().equals(socketKey)
                || !accepted.path().equals(ws.prologue().uriPath().path())) {
            LOG.error("Socket opened without its handshake on connection {}; closing it", socketKey);
            ws.close(CloseCodes.POLICY_VIOLATION, ErrorCode.AUTH_FAILED.code());
            return null;
        }
        SocketSession session = new SocketSession(accepted.connectionId(), accepted.principal(), ws,
                Thread.currentThread(), runtime);
        try {
            registry.add(session);
            session.open();
        } catch (RuntimeException e) {
            LOG.error("Socket {} could not be opened for user {}", accepted.connectionId(),
                    accepted.principal().userId(), e);
            session.failOpen();
            return session;
        }
        metrics.opened();
        LOG.info("Socket {} opened for user {} (credentials: {}, subprotocol: {})", accepted.connectionId(),
                accepted.principal().userId(), accepted.method(), accepted.subprotocol());
        return session;
    }

    private void tick() {
        try {
            java.time.Instant now = clock.instant();
            for (SocketSession session : registry.all()) {
                try {
                    session.tick(now);
                } catch (RuntimeException e) {
                    LOG.error("Socket {} tick failed", session.connectionId, e);
                }
            }
            registry.sweepReservations();
        } catch (RuntimeException e) {
            LOG.error("Socket tick failed", e);
        }
    }

    private void familyRevoked(String familyId) {
        for (SocketSession session : registry.all()) {
            if (familyId.equals(session.principal().familyId())) {
                session.close(ErrorCode.TOKEN_REVOKED, SocketSession.CLOSE_GRACE);
            }
        }
        scheduler.execute(() -> {
            try {
                tickets.forgetFamily(familyId);
            } catch (RuntimeException e) {
                LOG.warn("Could not delete the socket tickets of revoked family {}", familyId, e);
            }
        });
    }

    private void quietlyPurgeTickets() {
        try {
            tickets.purgeExpired(clock.instant());
        } catch (RuntimeException e) {
            LOG.warn("Purging expired socket tickets failed", e);
        }
    }

    /** Open sockets on this instance. */
    public int openSockets() {
        return registry.size();
    }

    /**
     * The first step of a graceful shutdown: every socket gets {@code server_shutdown} with a (jittered) delay after
     * which to reconnect, then a 1012 close; waits up to {@code wait} for those frames to be written.
     */
    public void shutdown(Duration wait) {
        var sessions = registry.all();
        if (sessions.isEmpty()) {
            return;
        }
        LOG.info("Closing {} socket(s) for shutdown", sessions.size());
        for (SocketSession session : sessions) {
            session.shutdown(1000 + ThreadLocalRandom.current().nextLong(2000));
        }
        long deadline = System.nanoTime() + wait.toNanos();
        for (SocketSession session : sessions) {
            try {
                session.awaitFlushed(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        revocations.close();
        scheduler.shutdownNow();
    }
}
