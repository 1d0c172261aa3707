package dev.parley.server.fanout;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fan-out of a single instance: {@link #publish} calls each subscriber of the user on the publishing thread,
 * before it returns, which keeps the events of a run in order. Subscribers are kept per user in copy-on-write lists
 * (sockets come and go rarely compared with events); a user's entry disappears with its last subscriber.
 */
public final class LocalFanout implements Fanout {
    private static final Logger LOG = LoggerFactory.getLogger(LocalFanout.class);

    private final ConcurrentHashMap<String, CopyOnWriteArrayList<Consumer<Envelope>>> subscribers =
            new ConcurrentHashMap<>();
    private final StopHandlers stopHandlers = new StopHandlers(LOG);

    @Override
    public void publish(String userId, Envelope event) {
        CopyOnWriteArrayList<Consumer<Envelope>> list = subscribers.get(userId);
        if (list == null) {
            return;
        }
        for (Consumer<Envelope> subscriber : list) {
            try {
                subscriber.accept(event);
            } catch (RuntimeException e) {
                LOG.error("A subscriber of user {} failed on a {} event", userId, event.type(), e);
            }
        }
    }

    @Override
    public Subscription subscribe(String userId, Consumer<Envelope> subscriber) {
        // A wrapper per registration, so that removing one registration never removes another of the same consumer.
        Consumer<Envelope> registration = subscriber::accept;
        subscribers.compute(userId, (id, list) -> {
            CopyOnWriteArrayList<Consumer<Envelope>> target = list == null ? new CopyOnWriteArrayList<>() : list;
            target.add(registration);
            return target;
        });
        return () -> subscribers.computeIfPresent(userId, (id, list) -> {
            list.remove(registration);
            return list.isEmpty() ? null : list;
        });
    }

    @Override
    public void requestStop(String runId) {
        stopHandlers.run(runId);
    }

    @Override
    public Subscription onStopRequest(Consumer<String> handler) {
        return stopHandlers.add(handler);
    }

    @Override
    public String describe() {
        return "local";
    }

    @Override
    public void close() {
        subscribers.clear();
        stopHandlers.clear();
    }
}
