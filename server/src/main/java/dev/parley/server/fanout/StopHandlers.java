package dev.parley.server.fanout;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;

/**
 * The handlers of stop requests that this instance runs ({@link Fanout#onStopRequest}): each is called in turn with
 * the run's id, and one that fails is logged without keeping the others from running. Thread-safe (a copy-on-write
 * list: handlers are added once per service, requests come often).
 */
final class StopHandlers {
    private final CopyOnWriteArrayList<Consumer<String>> handlers = new CopyOnWriteArrayList<>();
    private final Logger log;

    /** {@code log}: the owner's logger, which reports a handler that fails. */
    StopHandlers(Logger log) {
        this.log = log;
    }

    Fanout.Subscription add(Consumer<String> handler) {
        // A wrapper per registration, so that removing one registration never removes another of the same consumer.
        Consumer<String> registration = handler::accept;
        handlers.add(registration);
        return () -> handlers.remove(registration);
    }

    void run(String runId) {
        for (Consumer<String> handler : handlers) {
            try {
                handler.accept(runId);
            } catch (RuntimeException e) {
                log.error("A stop handler failed for run {}", runId, e);
            }
        }
    }

    void clear() {
        handlers.clear();
    }
}
