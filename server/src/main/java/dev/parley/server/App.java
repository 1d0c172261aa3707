package dev.parley.server;

import dev.parley.server.agent.Agent;
import dev.parley.server.auth.AuthModule;
import dev.parley.server.budget.Budgets;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.fanout.LocalFanout;
import dev.parley.server.fanout.RedisFanout;
import dev.parley.server.gateway.Gateway;
import dev.parley.server.gateway.SocketEndpoint;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import dev.parley.server.run.RunService;
import dev.parley.server.usage.UsageStore;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root. Start-up is four steps: the housekeeping scheduler, the database, the {@link Services}
 * (everything between the stores and the listener, with Redis's {@link SharedParts}), then the listener. Each part
 * goes on one {@link StartedParts} stack as it starts; a start-up that fails half-way and {@link #close} unwind that
 * same stack, the last started first. Tests start the same {@code App} on port 0.
 */
public final class App implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(App.class);

    private final Config config;
    private final Lifecycle lifecycle;
    private final Metrics metrics;
    private final StartedParts parts;
    private final Services services;
    private final Gateway gateway;

    private App(Config config, Lifecycle lifecycle, Metrics metrics, StartedParts parts, Services services,
                Gateway gateway) {
        this.config = config;
        this.lifecycle = lifecycle;
        this.metrics = metrics;
        this.parts = parts;
        this.services = services;
        this.gateway = gateway;
    }

    public static App start(Config config, Clock clock) {
        return start(config, clock, null);
    }

    /**
     * Starts the server. {@code agentOverride} replaces the configured agent (the offline team or the language
     * model) for tests of the run machinery that need a scripted pace; {@code null} uses the configured one.
     */
    public static App start(Config config, Clock clock, Agent agentOverride) {
        long started = System.nanoTime();
        Lifecycle lifecycle = new Lifecycle();
        Metrics metrics = new Metrics();
        StartedParts parts = new StartedParts();
        try {
            // Housekeeping that runs now and then (purges, the budget sweep, the socket count's heartbeat) shares this
            // one thread. Parts whose tasks must not wait behind a slow one keep their own and say why.
            ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
                    Thread.ofPlatform().daemon().name("parley-scheduler").factory());
            parts.add("scheduler", scheduler, scheduler::shutdownNow);
            Database database = parts.add("database", Database.open(config.storage()));
            long databaseOpen = System.nanoTime();
            Services services = Services.start(new Services.Context(config, clock, lifecycle, metrics, scheduler,
                    parts), database, agentOverride);
            long servicesBuilt = System.nanoTime();
            Gateway gateway = parts.add("listener", Gateway.start(new Gateway.Services(config, metrics,
                    services.health(), lifecycle, services.routes()), services.sockets()));
            lifecycle.ready();
            long listening = System.nanoTime();
            LOG.info("Started in {} ms: database {} ms (open and migrate), services {} ms, listener {} ms",
                    millis(listening - started), millis(databaseOpen - started), millis(servicesBuilt - databaseOpen),
                    millis(listening - servicesBuilt));
            return new App(config, lifecycle, metrics, parts, services, gateway);
        } catch (RuntimeException e) {
            parts.close();
            throw e;
        }
    }

    private static long millis(long nanos) {
        return nanos / 1_000_000;
    }

    /** The agent every run uses: the offline team, or the configured language model with the same tools. */
    public Agent agent() {
        return services.agent();
    }

    public UsageStore usage() {
        return services.usage();
    }

    /** The spend ledger. */
    public Budgets budgets() {
        return services.budgets();
    }

    public int port() {
        return gateway.port();
    }

    /** Every HTTP route served, as {@code METHOD /path/{param}} (what the published OpenAPI document must list). */
    public List<String> routes() {
        return gateway.routes();
    }

    public Config config() {
        return config;
    }

    public Metrics metrics() {
        return metrics;
    }

    public AuthModule auth() {
        return services.auth();
    }

    public RunService runs() {
        return services.runs();
    }

    /** The fan-out: {@link LocalFanout}, or {@link RedisFanout} when Redis is configured. */
    public Fanout fanout() {
        return services.fanout();
    }

    public SocketEndpoint sockets() {
        return services.sockets();
    }

    /**
     * Graceful shutdown: readiness turns 503 at once and new sockets are refused; every socket gets
     * {@code server_shutdown} and a 1012 close (its client reconnects elsewhere and resumes its runs from their
     * logs); runs in flight get up to PARLEY_SHUTDOWN_GRACE to finish and are then ended with {@code agent_error}
     * {@code service_restart} (retryable); then every started part closes, the last started first: the listener,
     * the sockets, sign-in, the runs and so on down to the database and the scheduler.
     */
    @Override
    public void close() {
        if (!lifecycle.drain()) {
            return;
        }
        LOG.info("Draining: readiness is now 503");
        services.sockets().shutdown(Duration.ofSeconds(2));
        services.runs().drain(config.server().shutdownGrace());
        parts.close();
        LOG.info("Stopped");
    }
}
