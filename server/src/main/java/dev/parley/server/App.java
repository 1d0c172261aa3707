package dev.parley.server;

import dev.parley.server.agent.Agent;
import dev.parley.server.agent.Agents;
import dev.parley.server.agent.Sleeper;
import dev.parley.server.agent.ToolPolicy;
import dev.parley.server.gateway.ToolRoutes;
import dev.parley.server.mcp.McpCredentials;
import dev.parley.server.mcp.McpServers;
import dev.parley.server.auth.AuthModule;
import dev.parley.server.auth.InMemoryLoginThrottle;
import dev.parley.server.auth.LocalRevocations;
import dev.parley.server.auth.LoginThrottle;
import dev.parley.server.auth.RedisLoginThrottle;
import dev.parley.server.auth.RedisRevocations;
import dev.parley.server.auth.Revocations;
import dev.parley.server.auth.oidc.OidcSignIn;
import dev.parley.server.budget.Budgets;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.db.Database;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.fanout.LocalFanout;
import dev.parley.server.fanout.LocalSocketCounter;
import dev.parley.server.fanout.RedisFanout;
import dev.parley.server.fanout.RedisSocketCounter;
import dev.parley.server.fanout.SocketCounter;
import dev.parley.server.gateway.AuthRoutes;
import dev.parley.server.gateway.BudgetRoutes;
import dev.parley.server.gateway.Gateway;
import dev.parley.server.gateway.OidcRoutes;
import dev.parley.server.gateway.RunRoutes;
import dev.parley.server.gateway.SocketEndpoint;
import dev.parley.server.gateway.ThreadRoutes;
import dev.parley.server.gateway.UsageRoutes;
import dev.parley.server.gateway.WebRoutes;
import dev.parley.server.health.Health;
import dev.parley.server.health.HealthCheck;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import dev.parley.server.redis.RedisConnections;
import dev.parley.server.run.RunEventLog;
import dev.parley.server.run.RunService;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.SampleUsage;
import dev.parley.server.usage.UsageIngest;
import dev.parley.server.usage.UsageStore;
import io.helidon.webserver.http.HttpService;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds every part in dependency order with plain constructors, starts the listener, and
 * closes everything in reverse. Tests start the same {@code App} on port 0.
 */
public final class App implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(App.class);

    private final Config config;
    private final Lifecycle lifecycle;
    private final Metrics metrics;
    private final Database database;
    private final AuthModule auth;
    private final OidcSignIn oidc;
    private final Fanout fanout;
    private final RunService runs;
    private final SocketEndpoint sockets;
    private final Gateway gateway;
    private final UsageStore usage;
    private final Agent agent;
    private final Shared shared;
    private final Budgets budgets;
    private final McpServers mcp;

    /**
     * The parts that are shared across instances when Redis is configured (their local twins otherwise), and the
     * Redis client itself (null without Redis).
     */
    private record Shared(RedisConnections redis, Revocations revocations, LoginThrottle throttle,
                          SocketCounter counter) {
        static Shared create(Config config, Database database, Clock clock) {
            if (config.storage().redisUrl().isEmpty()) {
                return new Shared(null, new LocalRevocations(), new InMemoryLoginThrottle(clock), new LocalSocketCounter());
            }
            RedisConnections redis = RedisConnections.open(config.storage().redisUrl().get(), config.redis(), clock);
            return new Shared(redis, new RedisRevocations(redis, database.sql(), clock),
                    new RedisLoginThrottle(redis, clock), new RedisSocketCounter(redis));
        }

        Fanout fanout(RunEventLog log, Clock clock) {
            return redis == null ? new LocalFanout() : new RedisFanout(redis, log, clock);
        }

        void close() {
            if (counter instanceof AutoCloseable closeable) {
                quietly(closeable);
            }
            if (revocations instanceof AutoCloseable closeable) {
                quietly(closeable);
            }
            if (redis != null) {
                redis.close();
            }
        }

        private static void quietly(AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                LOG.warn("Closing {} failed", closeable.getClass().getSimpleName(), e);
            }
        }
    }

    private App(Config config, Lifecycle lifecycle, Metrics metrics, Database database, AuthModule auth,
                OidcSignIn oidc, Fanout fanout, RunService runs, SocketEndpoint sockets, Gateway gateway,
                UsageStore usage, Agent agent, Shared shared, Budgets budgets, McpServers mcp) {
        this.config = config;
        this.lifecycle = lifecycle;
        this.metrics = metrics;
        this.database = database;
        this.auth = auth;
        this.oidc = oidc;
        this.fanout = fanout;
        this.runs = runs;
        this.sockets = sockets;
        this.gateway = gateway;
        this.usage = usage;
        this.agent = agent;
        this.shared = shared;
        this.budgets = budgets;
        this.mcp = mcp;
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
        Database database = Database.open(config.storage());
        long databaseOpen = System.nanoTime();
        AuthModule auth = null;
        OidcSignIn oidc = null;
        Agent agent = null;
        Fanout fanout = null;
        RunService runs = null;
        SocketEndpoint sockets = null;
        Shared shared = null;
        Budgets budgets = null;
        McpServers mcp = null;
        try {
            shared = Shared.create(config, database, clock);
            PriceCatalog prices = PriceCatalog.bundled();
            UsageStore usage = new UsageStore(database.sql(), clock);
            budgets = new Budgets(database.sql(), config.budget(), metrics, clock);
            ToolPolicy policy = new ToolPolicy(config.tools().policy());
            McpCredentials credentials = config.tools().credentialsKey()
                    .map(key -> new McpCredentials(database.sql(), key, clock)).orElse(null);
            mcp = McpServers.start(config.tools().mcpServers(), policy, config.server().version(), credentials,
                    metrics);
            agent = agentOverride != null ? agentOverride
                    : Agents.create(config.agent(), usage, prices, clock, Sleeper.THREAD, budgets, mcp, policy);
            registerPoolGauges(metrics, database);
            RunEventLog eventLog = new RunEventLog(database.sql());
            fanout = shared.fanout(eventLog, clock);
            registerFanoutGauges(metrics, fanout);
            List<HealthCheck> checks = new ArrayList<>(List.of(databaseCheck(database), fanoutCheck(fanout),
                    llmCheck(config.agent(), agent)));
            if (!mcp.isEmpty()) {
                checks.add(mcpCheck(mcp));
            }
            if (!config.agent().offline()) {
                Agent llm = agent;
                metrics.gauge("parley_llm_unreachable", "1 while the model provider is known to be unreachable (its "
                        + "calls are refused at once with llm_unavailable), else 0.", () -> llm.unreachable() ? 1 : 0);
            }
            Health health = new Health(config.server().version(), config.server().revision(), lifecycle, checks, clock);
            auth = AuthModule.create(config, database.sql(), shared.revocations(), shared.throttle(), metrics, clock);
            ConversationStore conversations = new ConversationStore(database.sql(), clock);
            runs = new RunService(database.sql(), database.eventLogSql(), eventLog, conversations, agent, fanout,
                    config.runs(), metrics, clock, config.tools().approvalTimeout());
            if (database.embedded()) {
                // One SQLite writer: the ledger's transactions join the run journal's commits instead of waiting in
                // SQLite's busy handler beside them, and a start takes its first call's hold in its own unit.
                // PostgreSQL runs them on the pool, side by side: through the journal, their statements would queue
                // one round trip after another on its single connection.
                budgets.writeThroughStarts(runs::writeLedger);
            }
            List<HttpService> routes = new ArrayList<>();
            oidc = OidcSignIn.create(config, database.sql(), auth.accounts(), shared.throttle(), metrics, clock);
            routes.add(new AuthRoutes(auth.accounts(), auth.verifier(), config.auth().trustedProxyHops(),
                    oidc.providers()));
            routes.add(new OidcRoutes(oidc, config.auth().trustedProxyHops()));
            routes.add(new UsageRoutes(usage, new UsageIngest(prices, clock), new SampleUsage(prices), auth.verifier(),
                    clock, config.server().maxRequestBytes()));
            routes.add(new ThreadRoutes(conversations, runs, auth.verifier(), config.server().maxRequestBytes()));
            routes.add(new RunRoutes(runs, auth.verifier()));
            routes.add(new BudgetRoutes(budgets, auth.accounts(), auth.verifier(), config.server().maxRequestBytes()));
            routes.add(new ToolRoutes(runs.approvals(), mcp, auth.verifier(), config.server().maxRequestBytes()));
            routes.add(WebRoutes.fromClasspath(config.server().publicUrl()));
            sockets = new SocketEndpoint(new SocketEndpoint.Dependencies(config, auth.verifier(), auth.revocations(),
                    database.sql(), runs, conversations, fanout, shared.counter(), lifecycle, metrics, clock));
            long servicesBuilt = System.nanoTime();
            Gateway gateway = Gateway.start(new Gateway.Services(config, metrics, health, lifecycle, routes), sockets);
            lifecycle.ready();
            long listening = System.nanoTime();
            LOG.info("Started in {} ms: database {} ms (open and migrate), services {} ms, listener {} ms",
                    millis(listening - started), millis(databaseOpen - started), millis(servicesBuilt - databaseOpen),
                    millis(listening - servicesBuilt));
            return new App(config, lifecycle, metrics, database, auth, oidc, fanout, runs, sockets, gateway, usage,
                    agent, shared, budgets, mcp);
        } catch (RuntimeException e) {
            if (sockets != null) {
                sockets.close();
            }
            if (runs != null) {
                runs.close();
            }
            if (fanout != null) {
                fanout.close();
            }
            if (oidc != null) {
                oidc.close();
            }
            if (auth != null) {
                auth.close();
            }
            if (shared != null) {
                shared.close();
            }
            quietlyClose(agent);
            if (mcp != null) {
                mcp.close();
            }
            if (budgets != null) {
                budgets.close();
            }
            database.close();
            throw e;
        }
    }

    private static long millis(long nanos) {
        return nanos / 1_000_000;
    }

    private static HealthCheck fanoutCheck(Fanout fanout) {
        return new HealthCheck() {
            @Override
            public String name() {
                return "fanout";
            }

            /** A shared fan-out that lost Redis still serves this instance's own sockets: degraded, not down. */
            @Override
            public State state() {
                return fanout.describe().equals("down") ? State.DEGRADED : State.UP;
            }

            @Override
            public String describe() {
                return fanout.describe();
            }
        };
    }

    private static HealthCheck databaseCheck(Database database) {
        return new HealthCheck() {
            @Override
            public String name() {
                return "database";
            }

            @Override
            public State state() {
                return database.isUp() ? State.UP : State.DOWN;
            }

            @Override
            public String describe() {
                return state() == State.UP ? "up" : "down";
            }
        };
    }

    /**
     * The MCP servers: readiness shows which are unavailable, and stays ready, since a server that is down fails only
     * the calls of its own tools.
     */
    private static HealthCheck mcpCheck(McpServers mcp) {
        return new HealthCheck() {
            @Override
            public String name() {
                return "mcp";
            }

            @Override
            public State state() {
                return State.UP;
            }

            @Override
            public String describe() {
                return mcp.describe();
            }
        };
    }

    /** The language model is not probed (that would cost a call); readiness says whether one is configured. */
    /** {@code unreachable} (degraded: the rest of the service still works) while the model provider is known down. */
    private static HealthCheck llmCheck(Config.Agent agentConfig, Agent agent) {
        return new HealthCheck() {
            @Override
            public String name() {
                return "llm";
            }

            @Override
            public State state() {
                return agent.unreachable() ? State.DEGRADED : State.UP;
            }

            @Override
            public String describe() {
                return agentConfig.offline() ? "offline" : agent.unreachable() ? "unreachable" : "configured";
            }
        };
    }

    private static void registerPoolGauges(Metrics metrics, Database database) {
        metrics.gauge("parley_db_pool_active", "Database connections in use.", database::activeConnections);
        metrics.gauge("parley_db_pool_idle", "Idle database connections.", database::idleConnections);
        metrics.gauge("parley_db_pool_pending", "Threads waiting for a database connection.", database::pendingThreads);
        metrics.gauge("parley_db_pool_max", "Maximum database connections.", database::maxConnections);
    }

    private static void registerFanoutGauges(Metrics metrics, Fanout fanout) {
        if (fanout instanceof RedisFanout shared) {
            metrics.gauge("parley_fanout_recovered_events",
                    "Events this instance read from the run logs because the bus did not bring them, since start.",
                    shared::recoveredEvents);
            metrics.gauge("parley_fanout_unpublished_events",
                    "Events this instance could not put on the bus (Redis was down), since start.",
                    shared::unpublishedEvents);
        }
    }

    /** The agent every run uses: the offline team, or the configured language model with the same tools. */
    public Agent agent() {
        return agent;
    }

    public UsageStore usage() {
        return usage;
    }

    /** The spend ledger. */
    public Budgets budgets() {
        return budgets;
    }

    private static void quietlyClose(Agent agent) {
        if (agent instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                LOG.warn("closing the agent failed", e);
            }
        }
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
        return auth;
    }

    public RunService runs() {
        return runs;
    }

    /** The fan-out: {@link LocalFanout}, or {@link RedisFanout} when Redis is configured. */
    public Fanout fanout() {
        return fanout;
    }

    public SocketEndpoint sockets() {
        return sockets;
    }

    /**
     * Graceful shutdown: readiness turns 503 at once and new sockets are refused; every socket gets
     * {@code server_shutdown} and a 1012 close (its client reconnects elsewhere and resumes its runs from their
     * logs); runs in flight get up to PARLEY_SHUTDOWN_GRACE to finish and are then ended with {@code agent_error}
     * {@code service_restart} (retryable); then the listener and the pool close.
     */
    @Override
    public void close() {
        if (!lifecycle.drain()) {
            return;
        }
        LOG.info("Draining: readiness is now 503");
        sockets.shutdown(Duration.ofSeconds(2));
        runs.drain(config.server().shutdownGrace());
        gateway.close();
        sockets.close();
        runs.close();
        fanout.close();
        oidc.close();
        auth.close();
        shared.close();
        quietlyClose(agent);
        mcp.close();
        budgets.close();
        database.close();
        LOG.info("Stopped");
    }
}
