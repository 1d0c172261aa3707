package dev.parley.server.auth;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Revocations within one process: {@link #announce} calls every listener on the announcing thread before it returns,
 * so a sign-out has evicted this instance's caches and asked its sockets to close by the time its answer is sent.
 * A listener that throws is logged and does not keep the others from hearing. Thread-safe; listeners live in a
 * copy-on-write list because they change rarely and are read on every announcement.
 */
public final class LocalRevocations implements Revocations {
    private static final Logger LOG = LoggerFactory.getLogger(LocalRevocations.class);

    private final CopyOnWriteArrayList<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    @Override
    public void announce(String familyId) {
        for (Consumer<String> listener : listeners) {
            try {
                listener.accept(familyId);
            } catch (RuntimeException e) {
                LOG.error("A revocation listener failed for family {}", familyId, e);
            }
        }
    }

    @Override
    public Subscription onFamilyRevoked(Consumer<String> listener) {
        // A wrapper per registration, so that the same listener registered twice is removed one registration at a time.
        Consumer<String> registration = listener::accept;
        listeners.add(registration);
        return () -> listeners.remove(registration);
    }
}
