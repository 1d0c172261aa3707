package dev.parley.server.run;

/** One entry of a run's event log: its {@code seq}, its type, and the event exactly as sockets received it. */
public record StoredEvent(long seq, String type, String wire) {
}
