package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.client.ParleySocket;
import dev.parley.client.ParleySocket.Received;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.MessageType;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * One run started from a socket and followed there: the {@code start_agent} that began it, its {@code agent_started},
 * its terminal event, and the frames in between. Used by one check's thread at a time.
 */
final class RunCapture {
    private final ParleySocket socket;
    private final int from;
    private final long sentNanos;
    private final String request;
    private Received started;
    private Received terminal;

    private RunCapture(ParleySocket socket, int from, long sentNanos, String request) {
        this.socket = socket;
        this.from = from;
        this.sentNanos = sentNanos;
        this.request = request;
    }

    /**
     * Sends {@code start_agent} and waits for the run's first event. A refusal ({@code error}) or silence is recorded
     * as a mismatch and ends the check. With a {@code threadId}, the run is recognised by it, so that events of
     * other runs reaching this socket (which would break isolation) are not taken for this one's.
     */
    static RunCapture start(Probe probe, ParleySocket socket, String request, String threadId, Duration timeout) {
        return start(probe, socket, request, threadId, null, timeout);
    }

    /**
     * As {@link #start(Probe, ParleySocket, String, String, Duration)}, asking the server to pause {@code stepDelay}
     * between the agent's steps ({@code settings.step_delay_ms}) so that a stop or a dropped socket lands while the
     * run is still going, however fast the server is.
     */
    static RunCapture start(Probe probe, ParleySocket socket, String request, String threadId, Duration stepDelay,
                            Duration timeout) {
        ObjectNode payload = Json.object().put("user_request", request);
        if (threadId != null) {
            payload.put("thread_id", threadId);
        }
        if (stepDelay != null) {
            payload.putObject("settings").put("step_delay_ms", stepDelay.toMillis());
        }
        String messageId = "validate-" + UUID.randomUUID();
        int from = socket.frameCount();
        long sent = System.nanoTime();
        socket.send(MessageType.START_AGENT.wireName(), payload, messageId);
        RunCapture run = new RunCapture(socket, from, sent, request);
        Received first = Frames.await(probe, socket, from,
                frame -> frame.type().equals(EventType.ERROR) || !frame.readable()
                        || (frame.event().runId() != null || Frames.isRunType(frame.type()))
                        && (threadId == null || threadId.equals(frame.event().threadId())),
                "agent_started answering start_agent", timeout);
        if (first.type().equals(EventType.ERROR) || !first.readable()) {
            throw probe.fail("agent_started answering start_agent", Frames.excerpt(first));
        }
        if (first.event().runId() == null) {
            throw probe.fail("run events that carry run_id", Frames.excerpt(first));
        }
        run.started = first;
        return run;
    }

    /** Waits for the run's {@code agent_completed} or {@code agent_error}. */
    Received awaitTerminal(Probe probe, Duration timeout) {
        if (terminal == null) {
            terminal = Frames.await(probe, socket, from,
                    frame -> runId().equals(frame.event().runId()) && EventType.isTerminal(frame.type()),
                    "agent_completed or agent_error ending run " + runId(), timeout);
        }
        return terminal;
    }

    /** {@link Frames#barrier} on this run's socket. */
    void barrier(Probe probe, Duration timeout) {
        Frames.barrier(probe, socket, timeout);
    }

    /** This run's events, in arrival order. */
    List<Received> events() {
        List<Received> frames = socket.frames();
        return frames.subList(Math.min(from, frames.size()), frames.size()).stream()
                .filter(frame -> runId().equals(frame.event().runId()))
                .toList();
    }

    /** Frames that carry another run's id, or are run events without any run id, received since the start. */
    List<Received> foreign() {
        List<Received> frames = socket.frames();
        return frames.subList(Math.min(from, frames.size()), frames.size()).stream()
                .filter(frame -> frame.event().runId() != null ? !runId().equals(frame.event().runId())
                        : Frames.isRunType(frame.type()))
                .toList();
    }

    String runId() {
        return started.event().runId();
    }

    String threadId() {
        return started.event().threadId();
    }

    Received started() {
        return started;
    }

    Received terminal() {
        return Objects.requireNonNull(terminal, "awaitTerminal first");
    }

    String request() {
        return request;
    }

    long sentNanos() {
        return sentNanos;
    }

    ParleySocket socket() {
        return socket;
    }

    long firstEventMs() {
        return Frames.millisBetween(sentNanos, started.arrivedNanos());
    }

    long completionMs() {
        return Frames.millisBetween(sentNanos, terminal().arrivedNanos());
    }
}
