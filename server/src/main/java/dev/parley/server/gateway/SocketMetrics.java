package dev.parley.server.gateway;

import dev.parley.server.observe.Metrics;
import java.util.function.IntSupplier;

/** The socket series on /metrics: open sockets, refused handshakes, closes by reason, frames sent by type. */
final class SocketMetrics {
    private final Metrics metrics;

    SocketMetrics(Metrics metrics, IntSupplier openSockets) {
        this.metrics = metrics;
        metrics.gauge("parley_ws_open_sockets", "Open sockets on this instance.", openSockets::getAsInt);
    }

    void refused(String code) {
        metrics.increment("parley_ws_handshakes_refused_total", "Socket upgrades refused, by error code.", "code", code);
    }

    void opened() {
        metrics.increment("parley_ws_opened_total", "Sockets opened.");
    }

    void closed(String reason) {
        metrics.increment("parley_ws_closed_total", "Sockets closed, by reason.", "reason", reason);
    }

    void sent(String type) {
        metrics.increment("parley_ws_events_sent_total", "Frames sent to sockets, by event type.", "type", type);
    }

    void received(String type) {
        metrics.increment("parley_ws_messages_received_total", "Client messages received, by type.", "type", type);
    }
}
