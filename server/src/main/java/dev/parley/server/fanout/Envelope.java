package dev.parley.server.fanout;

import dev.parley.protocol.ServerEvent;

/**
 * An event on its way to sockets: the frame text, written once for all of them, and the run and {@code seq} that
 * a socket needs to keep resume free of gaps and duplicates ({@code runId} null and {@code seq} 0 for other events).
 * {@code compact} is the frame without the {@code payload} mirror, as the run event log keeps it; null when the
 * envelope was not written here (read back from the log or from another instance).
 */
public record Envelope(String type, String runId, long seq, String wire, String compact) {
    public Envelope(String type, String runId, long seq, String wire) {
        this(type, runId, seq, wire, null);
    }

    public static Envelope of(ServerEvent event) {
        ServerEvent.Written written = event.write();
        return new Envelope(event.type(), event.runId(), event.seq(), written.wire(), written.compact());
    }

    /** What the run event log keeps of this event. */
    public String logged() {
        return compact == null ? wire : compact;
    }

    public boolean isRunEvent() {
        return runId != null;
    }
}
