package dev.parley.cli.validate;

import dev.parley.client.ParleySocket;
import dev.parley.client.ParleySocket.Received;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.MessageType;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Waiting for frames on behalf of a check, and describing frames in a report. */
final class Frames {
    /** The event types that belong to a run (carry thread_id, run_id, seq, agent_name). */
    static final Set<String> RUN_TYPES = Set.of(EventType.AGENT_STARTED, EventType.AGENT_THINKING,
            EventType.TOOL_EXECUTING, EventType.TOOL_COMPLETED, EventType.PARTIAL_RESULT, EventType.AGENT_COMPLETED,
            EventType.AGENT_ERROR);

    private static final int EXCERPT_CHARS = 300;
    private static final Pattern SECRET_FIELD = Pattern.compile(
            "\"(access_token|refresh_token|token|ticket|password)\"\\s*:\\s*\"[^\"]*\"");
    private static final Pattern TICKET_PARAMETER = Pattern.compile("ticket=[^&\"\\s]+");
    private static final Pattern JWT = Pattern.compile("eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*");

    private Frames() {
    }

    /**
     * Waits for a frame at or after {@code from}; on a timeout or a close, records {@code expected} against what the
     * socket did receive and ends the check.
     */
    static Received await(Probe probe, ParleySocket socket, int from, Predicate<Received> match, String expected,
                          Duration timeout) {
        try {
            return socket.awaitIndexed(from, match, timeout);
        } catch (TimeoutException e) {
            throw probe.fail(expected, silence(socket, from, timeout));
        }
    }

    /**
     * Sends a {@code ping} and waits for its {@code pong}. The server writes a socket's frames in order, so whatever
     * it had sent on this socket before answering the ping has arrived when this returns.
     */
    static void barrier(Probe probe, ParleySocket socket, Duration timeout) {
        int mark = socket.frameCount();
        socket.send(MessageType.PING.wireName(), Json.object(), null);
        await(probe, socket, mark, frame -> frame.type().equals(EventType.PONG), "pong answering ping", timeout);
    }

    /** What a socket received after {@code from}, for a report: "nothing within 30000 ms; received [pong, error]". */
    static String silence(ParleySocket socket, int from, Duration timeout) {
        List<Received> frames = socket.frames();
        List<Received> later = frames.subList(Math.min(from, frames.size()), frames.size());
        String received = later.isEmpty() ? "no frame" : "only " + summary(later);
        String closed = "";
        if (socket.isClosed()) {
            try {
                ParleySocket.Close close = socket.awaitClose(Duration.ZERO);
                closed = "; the socket closed (" + close.code() + (close.reason() == null || close.reason().isEmpty() ? "" : " " + close.reason()) + ")";
            } catch (TimeoutException e) {
                closed = "; the socket closed";
            }
        }
        return received + " within " + timeout.toMillis() + " ms" + closed;
    }

    /** "[agent_started#1, agent_thinking#2, pong]". */
    static String summary(List<Received> frames) {
        int limit = 40;
        String listed = frames.stream().limit(limit).map(Frames::label).collect(Collectors.joining(", "));
        return "[" + listed + (frames.size() > limit ? ", … " + (frames.size() - limit) + " more" : "") + "]";
    }

    static String label(Received frame) {
        if (!frame.readable()) {
            return "(not a JSON object: " + excerpt(frame.text()) + ")";
        }
        String type = frame.type().isEmpty() ? "(no type)" : frame.type();
        return frame.hasSeq() ? type + "#" + frame.raw().get("seq").asLong() : type;
    }

    /** The frame as sent, cut to a few hundred characters. */
    static String excerpt(Received frame) {
        return excerpt(frame.text());
    }

    /**
     * Text cut to a few hundred characters, with secrets blanked: reports are meant to be shared, so token and
     * ticket values, and anything shaped like a JWT, never appear in them.
     */
    static String excerpt(String text) {
        if (text == null) {
            return "";
        }
        String flat = redact(text).replaceAll("\\s+", " ");
        return flat.length() <= EXCERPT_CHARS ? flat : flat.substring(0, EXCERPT_CHARS) + "…";
    }

    static String redact(String text) {
        String masked = JWT.matcher(text).replaceAll("<jwt>");
        masked = TICKET_PARAMETER.matcher(masked).replaceAll("ticket=<redacted>");
        return SECRET_FIELD.matcher(masked).replaceAll("\"$1\":\"<redacted>\"");
    }

    static boolean isRunType(String type) {
        return RUN_TYPES.contains(type);
    }

    static long millisBetween(long fromNanos, long toNanos) {
        return Math.round((toNanos - fromNanos) / 1_000_000.0);
    }
}
