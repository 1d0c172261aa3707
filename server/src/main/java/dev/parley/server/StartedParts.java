package dev.parley.server;

import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The parts of the process started so far, in the order they started. {@link #close} unwinds them, the last started
 * first, so that nothing is closed while a part started after it still uses it: the same stack serves a start-up that
 * fails half-way and a normal stop. Used by the thread that starts or stops the process only.
 */
final class StartedParts implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StartedParts.class);

    private record Part(String name, AutoCloseable closer) {
    }

    private final Deque<Part> parts = new ArrayDeque<>();

    /** Records {@code part}, to be closed by its own {@code close}; returns it. */
    <T extends AutoCloseable> T add(String name, T part) {
        return add(name, part, part);
    }

    /** Records {@code part}, to be closed by {@code closer}; returns it. */
    <T> T add(String name, T part, AutoCloseable closer) {
        parts.push(new Part(name, closer));
        return part;
    }

    /** Closes every part, the last started first; a close that fails is logged and the others still close. */
    @Override
    public void close() {
        while (!parts.isEmpty()) {
            Part part = parts.pop();
            try {
                part.closer().close();
            } catch (Exception e) {
                LOG.warn("Closing {} failed", part.name(), e);
            }
        }
    }
}
