package dev.parley.server.fanout;

import java.util.Optional;

/**
 * An event as it travels on a user's Redis channel: the publishing instance's id, then the event's type, run id,
 * seq and wire form, one per line, so that a receiver can order and skip events without parsing their JSON.
 */
record BusMessage(String instanceId, Envelope event) {
    String encode() {
        return instanceId + '\n' + event.type() + '\n' + (event.runId() == null ? "" : event.runId()) + '\n'
                + event.seq() + '\n' + event.wire();
    }

    /** The message, or empty when it is not one (the caller logs it). */
    static Optional<BusMessage> decode(String message) {
        int a = message.indexOf('\n');
        int b = message.indexOf('\n', a + 1);
        int c = message.indexOf('\n', b + 1);
        int d = message.indexOf('\n', c + 1);
        if (a < 0 || b < 0 || c < 0 || d < 0) {
            return Optional.empty();
        }
        long seq;
        try {
            seq = Long.parseLong(message.substring(c + 1, d));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        String runId = message.substring(b + 1, c);
        return Optional.of(new BusMessage(message.substring(0, a), new Envelope(message.substring(a + 1, b),
                runId.isEmpty() ? null : runId, seq, message.substring(d + 1))));
    }
}
