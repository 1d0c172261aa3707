package dev.parley.server.fanout;

import dev.parley.protocol.ServerEvent;
import java.util.Objects;

/**
 * An event on its way to sockets: the frame text, written once for all of them (and as the run event log keeps it),
 * and the run and {@code seq} that a socket needs to keep resume free of gaps and duplicates ({@code runId} null and
 * {@code seq} 0 for other events). The frame with the {@code payload} mirror, for servers configured to send it, is
 * made from it on first use and kept.
 *
 * <p>Threads: immutable but for the mirrored frame, which any thread may compute; they all compute the same text.
 */
public final class Envelope {
    private final String type;
    private final String runId;
    private final long seq;
    private final String wire;
    private volatile String mirrored;

    public Envelope(String type, String runId, long seq, String wire) {
        this.type = type;
        this.runId = runId;
        this.seq = seq;
        this.wire = wire;
    }

    public static Envelope of(ServerEvent event) {
        return new Envelope(event.type(), event.runId(), event.seq(), event.toWire());
    }

    public String type() {
        return type;
    }

    public String runId() {
        return runId;
    }

    public long seq() {
        return seq;
    }

    /** The frame: the envelope with {@code data}. */
    public String wire() {
        return wire;
    }

    /** The frame with {@code data} mirrored as {@code payload} ({@link ServerEvent#withPayloadMirror}). */
    public String mirrored() {
        String known = mirrored;
        if (known == null) {
            known = ServerEvent.withPayloadMirror(wire);
            mirrored = known;
        }
        return known;
    }

    /** The frame as a socket sends it: with the mirror or without. */
    public String wire(boolean mirrorPayload) {
        return mirrorPayload ? mirrored() : wire;
    }

    public boolean isRunEvent() {
        return runId != null;
    }

    /** Equal when the type, run, {@code seq} and frame are (the mirrored frame follows from the frame). */
    @Override
    public boolean equals(Object other) {
        return other instanceof Envelope that && seq == that.seq && type.equals(that.type)
                && Objects.equals(runId, that.runId) && wire.equals(that.wire);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, runId, seq, wire);
    }

    @Override
    public String toString() {
        return "Envelope[" + type + " " + runId + " " + seq + "]";
    }
}
