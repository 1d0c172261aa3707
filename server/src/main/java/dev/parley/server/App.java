package dev.parley.server;

import dev.parley.server.auth.AuthModule;
import dev.parley.server.auth.InMemoryLoginThrottle;
import dev.parley.server.auth.LocalRevocations;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.gateway.AuthRoutes;
import dev.parley.server.gateway.Gateway;
import dev.parley.server.health.Health;
import dev.parley.server.health.HealthCheck;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
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
    private final Gateway gateway;

    private App(Config config, Lifecycle lifecycle, Metrics metrics, Database database, AuthModule auth,
                Gateway gateway) {
        this.config = config;
        this.lifecycle = lifecycle;
        this.metrics = metrics;
        this.database = database;
        this.auth = auth;
        this.gateway = gateway;
    }

    public static App start(Config config, Clock clock) {
        Lifecycle lifecycle = new Lifecycle();
        Metrics metrics = new Metrics();
        Database database = Database.open(config.storage());
        AuthModule auth = null;
        try {
            registerPoolGauges(metrics, database);
            List<HealthCheck> checks = List.of(databaseCheck(database));
            Health health = new Health(config.server().version(), config.server().revision(), lifecycle, checks, clock);
            auth = AuthModule.create(config, database.sql(), new LocalRevocations(), new InMemoryLoginThrottle(clock),
                    metrics, clock);
            List<HttpService> routes = new ArrayList<>();
            routes.add(new AuthRoutes(auth.accounts(), auth.verifier(), config.auth().trustedProxyHops()));
            Gateway gateway = Gateway.start(new Gateway.Services(config, metrics, health, lifecycle, routes));
            lifecycle.ready();
            return new App(config, lifecycle, metrics, database, auth, gateway);
        } catch (RuntimeException e) {
            if (auth != null) {
                auth.close();
            }
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

    private static void registerPoolGauges(Metrics metrics, Database database) {
        metrics.gauge("parley_db_pool_active", "Database connections in use.", database::activeConnections);
        metrics.gauge("parley_db_pool_idle", "Idle database connections.", database::idleConnections);
        metrics.gauge("parley_db_pool_pending", "Threads waiting for a database connection.", database::pendingThreads);
        metrics.gauge("parley_db_pool_max", "Maximum database connections.", database::maxConnections);
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
        auth.close();
        database.close();
        LOG.info("Stopped");
    }
}
