package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.auth.Principal;
import java.time.Duration;
import java.time.Instant;

/**
 * The liveness of one open socket: heartbeats while the client is quiet, the close after three quiet intervals, the
 * {@code auth_expiring} warning and the close when its token expires, and the periodic refresh of its entry in the
 * user's socket count.
 *
 * <p>Threads: the connection thread records inbound frames ({@link #inbound}) and credential refreshes
 * ({@link #refreshed}); the endpoint's one scheduler calls {@link #tick} through {@link SocketSession#tick}, which has
 * checked that the socket is open and its connection alive. The times are volatile; {@link #lastCountRefreshMillis}
 * is the scheduler's alone.
 */
final class SocketLiveness {
    static final Duration EXPIRY_WARNING = Duration.ofSeconds(60);

    private final SocketSession session;
    private final SocketRuntime runtime;
    private final long heartbeatMillis;
    private volatile long lastInboundMillis;
    private volatile long lastHeartbeatMillis;
    private long lastCountRefreshMillis; // scheduler thread only
    private volatile boolean expiryWarned;

    SocketLiveness(SocketSession session, SocketRuntime runtime) {
        this.session = session;
        this.runtime = runtime;
        this.heartbeatMillis = runtime.config().heartbeatInterval().toMillis();
        long now = runtime.clock().millis();
        this.lastInboundMillis = now;
        this.lastHeartbeatMillis = now;
    }

    long heartbeatMillis() {
        return heartbeatMillis;
    }

    /** A frame came from the client: the socket is alive. */
    void inbound() {
        lastInboundMillis = runtime.clock().millis();
    }

    /** The socket has a newer token: the expiry warning starts over. */
    void refreshed() {
        expiryWarned = false;
    }

    void tick(Instant now) {
        Principal current = session.principal();
        if (!now.isBefore(current.expiresAt())) {
            session.close(ErrorCode.TOKEN_EXPIRED, SocketSession.CLOSE_GRACE);
            return;
        }
        if (!expiryWarned && !now.isBefore(current.expiresAt().minus(EXPIRY_WARNING))) {
            expiryWarned = true;
            ObjectNode data = Json.object();
            data.put("expires_at", ServerEvent.formatTimestamp(current.expiresAt()));
            session.send(EventType.AUTH_EXPIRING, data);
        }
        long nowMillis = now.toEpochMilli();
        if (nowMillis - lastCountRefreshMillis >= heartbeatMillis) {
            lastCountRefreshMillis = nowMillis;
            runtime.registry().refresh(session);
        }
        long quiet = nowMillis - lastInboundMillis;
        if (quiet >= 3 * heartbeatMillis) {
            session.close(ErrorCode.HEARTBEAT_TIMEOUT, SocketSession.CLOSE_GRACE);
        } else if (quiet >= heartbeatMillis && nowMillis - lastHeartbeatMillis >= heartbeatMillis) {
            lastHeartbeatMillis = nowMillis;
            ObjectNode data = Json.object();
            data.put("connection_id", session.connectionId);
            data.put("server_time", ServerEvent.formatTimestamp(now));
            session.send(EventType.HEARTBEAT, data);
        }
    }
}
