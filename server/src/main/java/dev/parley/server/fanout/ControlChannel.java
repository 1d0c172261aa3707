package dev.parley.server.fanout;

import dev.parley.server.redis.RedisConnections;
import java.time.Instant;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The instances' control channel on Redis: stop requests for runs (whichever instance runs the run stops it; this
 * instance's own handlers run at once, whether Redis is up or not) and {@code resync} notices from an instance that
 * was cut off and asks the others to catch up on the events it could not publish. An instance ignores its own
 * messages. Thread-safe.
 */
final class ControlChannel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ControlChannel.class);

    private final RedisConnections redis;
    private final String instanceId;
    private final String channel;
    private final Consumer<Instant> onResync;
    private final StopHandlers stopHandlers = new StopHandlers(LOG);
    private final RedisConnections.Subscription subscription;

    ControlChannel(RedisConnections redis, String instanceId, Consumer<Instant> onResync) {
        this.redis = redis;
        this.instanceId = instanceId;
        this.channel = redis.key("control");
        this.onResync = onResync;
        this.subscription = redis.subscribe(channel, this::onMessage);
    }

    /** Whether Redis has confirmed the subscription: from then on, the other instances' messages reach this one. */
    boolean listening() {
        return subscription.ready().isDone() && !subscription.ready().isCompletedExceptionally();
    }

    void requestStop(String runId) {
        stopHandlers.run(runId);
        redis.publish(channel, "stop " + instanceId + " " + runId);
    }

    Fanout.Subscription onStopRequest(Consumer<String> handler) {
        return stopHandlers.add(handler);
    }

    /** Tells the other instances to read the run logs from {@code since}: this one's publishes since then were lost. */
    void announceResync(Instant since) {
        redis.publish(channel, "resync " + instanceId + " " + since.toEpochMilli());
    }

    private void onMessage(String message) {
        String[] parts = message.split(" ", 3);
        if (parts.length != 3 || parts[1].equals(instanceId)) {
            return;
        }
        switch (parts[0]) {
            case "stop" -> stopHandlers.run(parts[2]);
            case "resync" -> {
                try {
                    onResync.accept(Instant.ofEpochMilli(Long.parseLong(parts[2])));
                } catch (NumberFormatException e) {
                    LOG.warn("Ignoring a malformed resync notice on the control channel");
                }
            }
            default -> LOG.debug("Ignoring control message {}", parts[0]);
        }
    }

    @Override
    public void close() {
        subscription.close();
        stopHandlers.clear();
    }
}
