package dev.parley.server.fanout;

import dev.parley.server.health.HealthCheck;
import java.util.function.Consumer;

/**
 * Carries server events to the sockets of a user, wherever they are connected, and stop requests to the instance
 * that runs a run.
 *
 * <p>Contract shared by the implementations (the local one reaches this process; a Redis one reaches every instance):
 * <ul>
 *   <li>{@link #publish} reaches every subscriber of that user once, and never a subscriber of another user;</li>
 *   <li>events that one thread publishes one after the other (the events of a run, which the run publishes in
 *       {@code seq} order) reach each subscriber in that order;</li>
 *   <li>subscribers are called on a delivery thread that other users share: they must be quick and must not block
 *       (a socket puts the frame on its own bounded queue) and must not throw;</li>
 *   <li>an event published before {@link #subscribe} returned may or may not be delivered to that subscriber; one
 *       published after it returned is delivered. Resume relies on this: it subscribes first, then reads the log.</li>
 * </ul>
 */
public interface Fanout extends AutoCloseable {
    /** Delivers the event to every subscriber of {@code userId}. Never throws; delivery failures are logged. */
    void publish(String userId, Envelope event);

    /** Subscribes to the events of one user until the returned subscription is closed. */
    Subscription subscribe(String userId, Consumer<Envelope> subscriber);

    /** Asks the instance that runs {@code runId} to stop it; the owner answers through the run's own events. */
    void requestStop(String runId);

    /** Registers the handler that hears stop requests (the run service of this instance). */
    Subscription onStopRequest(Consumer<String> handler);

    /** How far events reach, as readiness reports it: {@code local}, or {@code up} for a shared bus. */
    String describe();

    /**
     * Readiness's {@code fanout} check: a shared fan-out that lost Redis still serves this instance's own sockets, so
     * it is degraded, not down.
     */
    default HealthCheck healthCheck() {
        return HealthCheck.degradable("fanout", () -> describe().equals("down"), this::describe);
    }

    @Override
    void close();

    /** A registration; closing it ends delivery to it. Closing twice is harmless. */
    interface Subscription extends AutoCloseable {
        @Override
        void close();
    }
}
