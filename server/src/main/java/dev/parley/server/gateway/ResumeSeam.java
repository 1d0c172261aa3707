package dev.parley.server.gateway;

import dev.parley.protocol.EventType;
import dev.parley.server.fanout.Envelope;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The seam between a resume's replay and the live events of the same run, for one socket: while a run replays, its
 * live events are held here; after the replay they are let through unless the replay already carried them, so that
 * the socket sees neither a gap nor a duplicate at the seam.
 *
 * <p>Threads: {@link #live} is called on the fan-out's publishing threads, the rest on the socket's reader thread
 * (which runs the resume); everything is guarded by this object's lock, and nothing is sent while holding it except
 * through the non-blocking {@link Output#offer}.
 */
final class ResumeSeam {
    /** Where the socket's frames go. */
    interface Output {
        /** Queues a frame without waiting; false when the send queue is full. */
        boolean offer(String wire);

        /** Queues a frame, waiting for room; throws when the client stopped reading. */
        void put(String wire) throws InterruptedException;
    }

    private final long maxHeldBytes;
    private final boolean mirrorPayload;
    /** Runs being resumed: their live events wait here until the replay is done. */
    private final Map<String, List<Envelope>> replaying = new HashMap<>();
    private long heldBytes;
    /**
     * Runs resumed on this socket, with the highest seq the resume sent: a live event of the run at or below it was
     * already sent (it was logged before the replay read the log and published after the replay ended).
     */
    private final Map<String, Long> resumedUpTo = new HashMap<>();

    /** {@code mirrorPayload}: the socket sends frames with {@code data} mirrored as {@code payload}. */
    ResumeSeam(long maxHeldBytes, boolean mirrorPayload) {
        this.maxHeldBytes = maxHeldBytes;
        this.mirrorPayload = mirrorPayload;
    }

    /**
     * A live event of a run: sent, held while its run replays, or dropped when the replay carried it. False when it
     * could not be queued or held (the socket is a slow consumer).
     */
    synchronized boolean live(Envelope event, Output output) {
        List<Envelope> held = replaying.get(event.runId());
        Long sentUpTo = resumedUpTo.get(event.runId());
        if (EventType.isTerminal(event.type())) {
            resumedUpTo.remove(event.runId());
        }
        if (held != null) {
            held.add(event);
            heldBytes += event.wire().length();
            return heldBytes <= maxHeldBytes;
        }
        if (sentUpTo != null && event.seq() <= sentUpTo) {
            return true;
        }
        return output.offer(event.wire(mirrorPayload));
    }

    /** A replay of the run begins: its live events are held from now on. */
    synchronized void begin(String runId) {
        replaying.put(runId, new ArrayList<>());
    }

    /** The replay ended early (the client stopped reading): the run's held events are let go. */
    synchronized void abandon(String runId) {
        List<Envelope> held = replaying.remove(runId);
        if (held != null) {
            for (Envelope event : held) {
                heldBytes -= event.wire().length();
            }
        }
    }

    /**
     * The replay sent every event up to {@code sentMax}: sends the held events past it, in order, until none is left,
     * and from then on lets the run's live events through.
     */
    void finish(String runId, long sentMax, Output output) throws InterruptedException {
        long max = sentMax;
        while (true) {
            List<Envelope> batch;
            synchronized (this) {
                List<Envelope> held = replaying.get(runId);
                if (held == null || held.isEmpty()) {
                    replaying.remove(runId);
                    resumedUpTo.merge(runId, max, Math::max);
                    return;
                }
                batch = new ArrayList<>(held);
                held.clear();
                for (Envelope event : batch) {
                    heldBytes -= event.wire().length();
                }
            }
            for (Envelope event : batch) {
                if (event.seq() > max) {
                    output.put(event.wire(mirrorPayload));
                    max = event.seq();
                }
            }
        }
    }

    /** The run is over and fully sent: nothing of it is still to come. */
    synchronized void forget(String runId) {
        resumedUpTo.remove(runId);
    }
}
