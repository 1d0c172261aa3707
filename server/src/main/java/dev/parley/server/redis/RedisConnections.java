package dev.parley.server.redis;

import dev.parley.server.config.Config;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.net.SocketAddress;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one Redis client of an instance (Lettuce): a connection for commands, a connection for pub/sub, their
 * lifecycle, and what the Redis-backed parts need to survive Redis going away and coming back.
 *
 * <p>Both connections reconnect by themselves (Lettuce's watchdog, backing off from 100 ms to 2 s). While either is
 * down, commands are refused at once ({@link RedisUnavailableException}) rather than queued, so that no caller
 * blocks on Redis and nothing piles up in memory; the callers fall back to this instance alone or to the database.
 * An instance that cannot reach Redis when it starts starts anyway and keeps trying.
 *
 * <p>Subscriptions are kept here ({@link #subscribe}): the channel, its handler, and on every reconnection a fresh
 * {@code SUBSCRIBE} of every channel. Then every {@link Listener} hears {@link Listener#recovered} with the moment
 * Redis was lost, on a worker thread of its own, so that it can fetch from the database what it missed; while Redis
 * is gone they hear {@link Listener#stillDown} about once a second. Messages reach handlers on Lettuce's I/O thread:
 * handlers must be quick and must not block.
 *
 * <p>State: {@link #downSince} is null while both connections are up and every recovery has run; it is set when
 * either connection drops (or before the first connection) and cleared by the worker after a successful recovery.
 * Thread-safe.
 */
public final class RedisConnections implements AutoCloseable {
    static final Duration TICK = Duration.ofSeconds(1);
    private static final Logger LOG = LoggerFactory.getLogger(RedisConnections.class);

    /** What a Redis-backed part does when Redis comes back, and while it is gone. */
    public interface Listener {
        /**
         * Redis was unreachable from {@code since} (this instance's clock) until now, and every subscription is in
         * place again: fetch what was missed. Runs on the recovery worker; throwing makes the recovery run again.
         */
        default void recovered(Instant since) {
        }

        /** Called about once a second while Redis is unreachable (since {@code since}); runs on the worker. */
        default void stillDown(Instant since) {
        }
    }

    /** A channel subscription; closing it stops delivery and unsubscribes. {@link #ready()} completes on the ack. */
    public interface Subscription extends AutoCloseable {
        CompletableFuture<Void> ready();

        @Override
        void close();
    }

    private final RedisURI uri;
    private final String prefix;
    private final Duration timeout;
    private final Clock clock;
    private final ClientResources resources;
    private final RedisClient client;
    private final ConcurrentHashMap<String, Consumer<String>> handlers = new ConcurrentHashMap<>();
    private final Object subscriptionLock = new Object();
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService worker;
    private volatile StatefulRedisConnection<String, String> commands;
    private volatile StatefulRedisPubSubConnection<String, String> pubsub;
    private volatile boolean commandsUp;
    private volatile boolean pubsubUp;
    private volatile Instant downSince;
    private volatile boolean closed;

    private RedisConnections(RedisURI uri, Config.Redis config, Clock clock) {
        this.uri = uri;
        this.prefix = config.keyPrefix();
        this.timeout = config.commandTimeout();
        this.clock = clock;
        this.downSince = clock.instant();
        this.resources = ClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(2)
                .reconnectDelay(Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                .build();
        this.client = RedisClient.create(resources, uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .pingBeforeActivateConnection(true)
                .suspendReconnectOnProtocolFailure(false)
                .timeoutOptions(TimeoutOptions.enabled(timeout))
                .socketOptions(SocketOptions.builder().connectTimeout(timeout).keepAlive(true).tcpNoDelay(true).build())
                .build());
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisConnected(RedisChannelHandler<?, ?> connection, SocketAddress address) {
                connected(connection);
            }

            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
                disconnected(connection);
            }
        });
        // Its own thread, not the process's housekeeping one: recovering after an outage waits on Redis for up to the
        // command timeout, and the listeners it calls then would hold up every purge and heartbeat behind it.
        this.worker = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("parley-redis").factory());
    }

    /**
     * Opens the client on {@code url} ({@code redis://[:password@]host:port[/database]}, or {@code rediss://}).
     * Waits up to the command timeout for the first connection; when Redis cannot be reached, returns anyway and
     * keeps trying in the background ({@link #isUp()} says false until then).
     */
    public static RedisConnections open(URI url, Config.Redis config, Clock clock) {
        RedisURI uri = RedisURI.create(url);
        uri.setTimeout(config.commandTimeout());
        RedisConnections redis = new RedisConnections(uri, config, clock);
        redis.tryConnect();
        redis.worker.scheduleWithFixedDelay(redis::tick, TICK.toMillis(), TICK.toMillis(), TimeUnit.MILLISECONDS);
        return redis;
    }

    /** A key or channel name of this deployment: the configured prefix, then the parts, joined with ':'. */
    public String key(String... parts) {
        return prefix + ":" + String.join(":", parts);
    }

    /** Whether both connections are up and the last outage has been recovered from. */
    public boolean isUp() {
        return commandsUp && pubsubUp && downSince == null;
    }

    /** When the current outage began (this instance's clock), or empty while Redis is up. */
    public Optional<Instant> downSince() {
        return Optional.ofNullable(downSince);
    }

    public Duration timeout() {
        return timeout;
    }

    /** Registers a part that catches up after outages; see {@link Listener}. */
    public void addListener(Listener listener) {
        listeners.add(listener);
    }

    /**
     * The asynchronous commands of the command connection.
     *
     * @throws RedisUnavailableException when it is not connected
     */
    public RedisAsyncCommands<String, String> async() {
        StatefulRedisConnection<String, String> connection = commands;
        if (connection == null || !commandsUp) {
            throw new RedisUnavailableException("Redis is not connected", null);
        }
        return connection.async();
    }

    /**
     * Waits for a command's answer, at most the command timeout.
     *
     * @throws RedisUnavailableException when Redis refused, failed or did not answer in time
     */
    public <T> T await(RedisFuture<T> future) {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new RedisUnavailableException("Redis command failed: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            future.cancel(false);
            throw new RedisUnavailableException("Redis did not answer within " + timeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RedisUnavailableException("interrupted while waiting for Redis", e);
        }
    }

    /** Runs one command and waits for its answer; see {@link #await}. */
    public <T> T call(java.util.function.Function<RedisAsyncCommands<String, String>, RedisFuture<T>> command) {
        try {
            return await(command.apply(async()));
        } catch (io.lettuce.core.RedisException e) {
            throw new RedisUnavailableException("Redis refused the command: " + e.getMessage(), e);
        }
    }

    /**
     * Publishes without waiting. Returns false when the message could not even be sent (Redis is not connected);
     * a message sent but lost on the way is not reported: subscribers detect that by their own means.
     */
    public boolean publish(String channel, String message) {
        try {
            async().publish(channel, message);
            return true;
        } catch (RedisUnavailableException | io.lettuce.core.RedisException e) {
            return false;
        }
    }

    /**
     * Subscribes {@code handler} to {@code channel} (one handler per channel). The subscription is kept across
     * reconnections; when Redis is down now, it takes effect once Redis is back.
     */
    public Subscription subscribe(String channel, Consumer<String> handler) {
        CompletableFuture<Void> ready = new CompletableFuture<>();
        synchronized (subscriptionLock) {
            if (handlers.putIfAbsent(channel, handler) != null) {
                throw new IllegalStateException("channel " + channel + " already has a handler");
            }
            StatefulRedisPubSubConnection<String, String> connection = pubsub;
            if (connection != null && pubsubUp) {
                try {
                    connection.async().subscribe(channel).whenComplete((ok, failure) -> {
                        if (failure == null) {
                            ready.complete(null);
                        } else {
                            suspect("SUBSCRIBE " + channel + " failed: " + failure);
                            ready.completeExceptionally(failure);
                        }
                    });
                } catch (io.lettuce.core.RedisException e) {
                    ready.completeExceptionally(e);
                }
            } else {
                ready.completeExceptionally(new RedisUnavailableException("Redis is not connected", null));
            }
        }
        return new Subscription() {
            private volatile boolean done;

            @Override
            public CompletableFuture<Void> ready() {
                return ready;
            }

            @Override
            public void close() {
                if (done) {
                    return;
                }
                done = true;
                synchronized (subscriptionLock) {
                    if (handlers.remove(channel, handler)) {
                        StatefulRedisPubSubConnection<String, String> connection = pubsub;
                        if (connection != null && pubsubUp) {
                            try {
                                connection.async().unsubscribe(channel);
                            } catch (io.lettuce.core.RedisException e) {
                                LOG.debug("Could not unsubscribe {}: {}", channel, e.toString());
                            }
                        }
                    }
                }
            }
        };
    }

    private void tryConnect() {
        if (closed || (commands != null && pubsub != null)) {
            return;
        }
        try {
            if (commands == null) {
                commands = client.connect();
                commandsUp = true;
            }
            if (pubsub == null) {
                StatefulRedisPubSubConnection<String, String> connection = client.connectPubSub();
                connection.addListener(new RedisPubSubAdapter<>() {
                    @Override
                    public void message(String channel, String message) {
                        dispatch(channel, message);
                    }
                });
                pubsub = connection;
                pubsubUp = true;
            }
            LOG.info("Redis connected at {}:{} (database {}, prefix '{}')", uri.getHost(), uri.getPort(),
                    uri.getDatabase(), prefix);
            recover(); // on the opening thread at start, else on the worker: either way before the next tick
        } catch (RuntimeException e) {
            LOG.warn("Redis is not reachable at {}:{} ({}); serving this instance's sockets alone and retrying",
                    uri.getHost(), uri.getPort(), e.getMessage());
        }
    }

    private void dispatch(String channel, String message) {
        Consumer<String> handler = handlers.get(channel);
        if (handler == null) {
            return;
        }
        try {
            handler.accept(message);
        } catch (RuntimeException e) {
            LOG.error("The handler of Redis channel {} failed", channel, e);
        }
    }

    private void connected(RedisChannelHandler<?, ?> connection) {
        boolean isCommands = connection == commands;
        boolean isPubsub = connection == pubsub;
        if (isCommands) {
            commandsUp = true;
        } else if (isPubsub) {
            pubsubUp = true;
        } else {
            return; // a connection still being opened by tryConnect, which recovers by itself
        }
        if (commandsUp && pubsubUp && !closed) {
            worker.execute(this::recover);
        }
    }

    private void disconnected(RedisChannelHandler<?, ?> connection) {
        if (connection == commands) {
            commandsUp = false;
        } else if (connection == pubsub) {
            pubsubUp = false;
        } else {
            return;
        }
        if (closed) {
            return;
        }
        synchronized (this) {
            if (downSince == null) {
                downSince = clock.instant();
                LOG.warn("Redis connection lost; serving this instance's sockets alone until it is back");
            }
        }
    }

    /**
     * Something went wrong that leaves the subscriptions in doubt: handle it as an outage, so that the next tick
     * subscribes everything again and the listeners catch up.
     */
    private synchronized void suspect(String why) {
        if (downSince == null && !closed) {
            downSince = clock.instant();
            LOG.warn("Redis subscriptions in doubt ({}); renewing them and catching up", why);
        }
    }

    /** On the worker: resubscribes every channel, then lets every listener catch up; clears the outage on success. */
    private void recover() {
        Instant since = downSince;
        if (since == null || closed || !commandsUp || !pubsubUp) {
            return;
        }
        StatefulRedisPubSubConnection<String, String> connection = pubsub;
        try {
            List<String> channels = List.copyOf(handlers.keySet());
            if (!channels.isEmpty()) {
                await(connection.async().subscribe(channels.toArray(String[]::new)));
            }
            for (Listener listener : listeners) {
                listener.recovered(since);
            }
        } catch (RuntimeException e) {
            LOG.warn("Catching up after the Redis outage failed ({}); retrying in {} ms", e.toString(), TICK.toMillis());
            return; // tick() tries again
        }
        synchronized (this) {
            if (downSince == since && commandsUp && pubsubUp) {
                downSince = null;
                LOG.info("Redis is back after {} ms; caught up", Duration.between(since, clock.instant()).toMillis());
            }
        }
    }

    private void tick() {
        try {
            if (closed) {
                return;
            }
            if (commands == null || pubsub == null) {
                tryConnect();
                return;
            }
            Instant since = downSince;
            if (since == null) {
                return;
            }
            if (commandsUp && pubsubUp) {
                recover();
                return;
            }
            for (Listener listener : listeners) {
                try {
                    listener.stillDown(since);
                } catch (RuntimeException e) {
                    LOG.warn("Working around the Redis outage failed: {}", e.toString());
                }
            }
        } catch (RuntimeException e) {
            LOG.error("Redis upkeep failed", e);
        }
    }

    @Override
    public void close() {
        closed = true;
        worker.shutdownNow();
        quietlyClose(pubsub);
        quietlyClose(commands);
        try {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            resources.shutdown(0, 2, TimeUnit.SECONDS);
        } catch (RuntimeException e) {
            LOG.warn("Closing the Redis client failed", e);
        }
    }

    private static void quietlyClose(StatefulRedisConnection<String, String> connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (RuntimeException e) {
                LOG.debug("Closing a Redis connection failed: {}", e.toString());
            }
        }
    }
}
