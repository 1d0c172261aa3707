package dev.parley.server.fanout;

import dev.parley.protocol.ServerEvent;

/**
 * An event on its way to sockets: the frame text, written once for all of them, and the run and {@code seq} that
 * a socket needs to keep resume free of gaps and duplicates ({@code runId} null and {@code seq} 0 for other events).
 */
public record Envelope(String type, String runId, long seq, String wire) {
    public static Envelope of(ServerEvent event) {
        return new Envelope(event.type(), event.runId(), event.seq(), event.toWire());
    }

    public boolean isRunEvent() {
        return runId != null;
    }
}
