package dev.parley.server.gateway;

import io.helidon.common.buffers.BufferData;
import io.helidon.http.HttpPrologue;
import io.helidon.http.WritableHeaders;
import io.helidon.websocket.WsSession;
import java.util.Optional;

/**
 * Helidon's view of one socket: one listener per connection, which hands every callback to its
 * {@link SocketSession}. No callback throws: an exception here would make Helidon close with 1011.
 */
final class SocketListener implements io.helidon.websocket.WsListener {
    private final SocketEndpoint endpoint;
    private SocketSession session; // set in onOpen, then read on the same connection thread

    SocketListener(SocketEndpoint endpoint) {
        this.endpoint = endpoint;
    }

    @Override
    public Optional<io.helidon.http.Headers> onHttpUpgrade(HttpPrologue prologue, io.helidon.http.Headers headers) {
        SocketHandshake.Accepted accepted = SocketHandshake.PENDING.get();
        if (accepted == null || accepted.subprotocol() == null) {
            return Optional.empty();
        }
        WritableHeaders<?> answer = WritableHeaders.create();
        answer.set(SocketHandshake.PROTOCOL, accepted.subprotocol());
        return Optional.of(answer);
    }

    @Override
    public void onOpen(WsSession ws) {
        SocketHandshake.Accepted accepted = SocketHandshake.PENDING.get();
        SocketHandshake.PENDING.remove();
        session = endpoint.open(accepted, ws);
    }

    @Override
    public void onMessage(WsSession ws, String text, boolean last) {
        if (session != null) {
            try {
                session.onText(text, last);
            } catch (RuntimeException e) {
                session.failed(e);
            }
        }
    }

    @Override
    public void onMessage(WsSession ws, BufferData buffer, boolean last) {
        if (session != null) {
            session.onBinary();
        }
    }

    @Override
    public void onPing(WsSession ws, BufferData buffer) {
        if (session != null) {
            session.onPing(buffer);
        }
    }

    @Override
    public void onPong(WsSession ws, BufferData buffer) {
        if (session != null) {
            session.onPong();
        }
    }

    @Override
    public void onClose(WsSession ws, int status, String reason) {
        if (session != null) {
            session.onPeerClose(status, reason);
        }
    }

    @Override
    public void onError(WsSession ws, Throwable t) {
        if (session != null) {
            session.onError(t);
        }
    }
}
