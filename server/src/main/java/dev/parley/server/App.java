package dev.parley.server;

import dev.parley.server.agent.Agent;
import dev.parley.server.agent.Agents;
import dev.parley.server.auth.AuthModule;
import dev.parley.server.auth.InMemoryLoginThrottle;
import dev.parley.server.auth.LocalRevocations;
import dev.parley.server.auth.oidc.OidcSignIn;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.gateway.AuthRoutes;
import dev.parley.server.gateway.Gateway;
import dev.parley.server.gateway.OidcRoutes;
import dev.parley.server.gateway.UsageRoutes;
import dev.parley.server.health.Health;
import dev.parley.server.health.HealthCheck;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.SampleUsage;
import dev.parley.server.usage.UsageIngest;
import dev.parley.server.usage.UsageStore;
import io.helidon.webserver.http.HttpService;
import java.time.Clock;
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
    private final Gateway gateway;
    private final UsageStore usage;
    private final Agent agent;

    private App(Config config, Lifecycle lifecycle, Metrics metrics, Database database, AuthModule auth,
                OidcSignIn oidc, Gateway gateway, UsageStore usage, Agent agent) {
        this.config = config;
        this.lifecycle = lifecycle;
        this.metrics = metrics;
        this.database = database;
        this.auth = auth;
        this.oidc = oidc;
        this.gateway = gateway;
        this.usage = usage;
        this.agent = agent;
    }

    public static App start(Config config, Clock clock) {
        Lifecycle lifecycle = new Lifecycle();
        Metrics metrics = new Metrics();
        Database database = Database.open(config.storage());
        AuthModule auth = null;
        OidcSignIn oidc = null;
        Agent agent = null;
        try {
            PriceCatalog prices = PriceCatalog.bundled();
            UsageStore usage = new UsageStore(database.sql(), clock);
            agent = Agents.create(config.agent(), usage, prices, clock);
            registerPoolGauges(metrics, database);
            List<HealthCheck> checks = List.of(databaseCheck(database), llmCheck(config.agent()));
            Health health = new Health(config.server().version(), config.server().revision(), lifecycle, checks, clock);
            auth = AuthModule.create(config, database.sql(), new LocalRevocations(), new InMemoryLoginThrottle(clock),
                    metrics, clock);
            List<HttpService> routes = new ArrayList<>();
            oidc = OidcSignIn.create(config, database.sql(), auth.accounts(), metrics, clock);
            routes.add(new AuthRoutes(auth.accounts(), auth.verifier(), config.auth().trustedProxyHops(),
                    oidc.providers()));
            routes.add(new OidcRoutes(oidc));
            routes.add(new UsageRoutes(usage, new UsageIngest(prices, clock), new SampleUsage(prices), auth.verifier(),
                    clock, config.server().maxRequestBytes()));
            Gateway gateway = Gateway.start(new Gateway.Services(config, metrics, health, lifecycle, routes));
            lifecycle.ready();
            return new App(config, lifecycle, metrics, database, auth, oidc, gateway, usage, agent);
        } catch (RuntimeException e) {
            if (oidc != null) {
                oidc.close();
            }
            if (auth != null) {
                auth.close();
            }
            quietlyClose(agent);
            database.close();
            throw e;
        }
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

    /** The language model is not probed (that would cost a call); readiness says whether one is configured. */
    private static HealthCheck llmCheck(Config.Agent agentConfig) {
        return new HealthCheck() {
            @Override
            public String name() {
                return "llm";
            }

            @Override
            public State state() {
                return State.UP;
            }

            @Override
            public String describe() {
                return agentConfig.offline() ? "offline" : "configured";
            }
        };
    }

    private static void registerPoolGauges(Metrics metrics, Database database) {
        metrics.gauge("parley_db_pool_active", "Database connections in use.", database::activeConnections);
        metrics.gauge("parley_db_pool_idle", "Idle database connections.", database::idleConnections);
        metrics.gauge("parley_db_pool_pending", "Threads waiting for a database connection.", database::pendingThreads);
        metrics.gauge("parley_db_pool_max", "Maximum database connections.", database::maxConnections);
    }

    /** The agent every run uses: the offline team, or the configured language model with the same tools. */
    public Agent agent() {
        return agent;
    }

    public UsageStore usage() {
        return usage;
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

    public Config config() {
        return config;
    }

    public Metrics metrics() {
        return metrics;
    }

    public AuthModule auth() {
        return auth;
    }

    /** Graceful shutdown: readiness turns 503 at once, work in flight drains, then the listener and pool close. */
    @Override
    public void close() {
        if (!lifecycle.drain()) {
            return;
        }
        LOG.info("Draining: readiness is now 503");
        gateway.close();
        oidc.close();
        auth.close();
        quietlyClose(agent);
        database.close();
        LOG.info("Stopped");
    }
}
