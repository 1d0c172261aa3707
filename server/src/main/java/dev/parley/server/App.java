package dev.parley.server;

import dev.parley.protocol.ErrorCode;
import dev.parley.server.agent.Agent;
import dev.parley.server.agent.AgentException;
import dev.parley.server.auth.AuthModule;
import dev.parley.server.auth.InMemoryLoginThrottle;
import dev.parley.server.auth.LocalRevocations;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.db.Database;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.fanout.LocalFanout;
import dev.parley.server.fanout.LocalSocketCounter;
import dev.parley.server.gateway.AuthRoutes;
import dev.parley.server.gateway.Gateway;
import dev.parley.server.gateway.RunRoutes;
import dev.parley.server.gateway.SocketEndpoint;
import dev.parley.server.gateway.ThreadRoutes;
import dev.parley.server.health.Health;
import dev.parley.server.health.HealthCheck;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import dev.parley.server.run.RunService;
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
    private final Fanout fanout;
    private final RunService runs;
    private final SocketEndpoint sockets;
    private final Gateway gateway;

    private App(Config config, Lifecycle lifecycle, Metrics metrics, Database database, AuthModule auth,
                Fanout fanout, RunService runs, SocketEndpoint sockets, Gateway gateway) {
        this.config = config;
        this.lifecycle = lifecycle;
        this.metrics = metrics;
        this.database = database;
        this.auth = auth;
        this.fanout = fanout;
        this.runs = runs;
        this.sockets = sockets;
        this.gateway = gateway;
    }

    /**
     * Until an agent is wired in here, runs end at once with {@code agent_error} {@code llm_unavailable}: the
     * server says plainly that it has no agent rather than pretending to answer.
     */
    static final Agent NO_AGENT = run -> {
        throw new AgentException(ErrorCode.LLM_UNAVAILABLE, "No agent is configured on this server.", false, null);
    };

    public static App start(Config config, Clock clock) {
        return start(config, clock, NO_AGENT);
    }

    /** Starts the server with the given agent doing the work of every run. */
    public static App start(Config config, Clock clock, Agent agent) {
        Lifecycle lifecycle = new Lifecycle();
        Metrics metrics = new Metrics();
        Database database = Database.open(config.storage());
        AuthModule auth = null;
        Fanout fanout = null;
        RunService runs = null;
        SocketEndpoint sockets = null;
        try {
            registerPoolGauges(metrics, database);
            fanout = new LocalFanout();
            List<HealthCheck> checks = List.of(databaseCheck(database), fanoutCheck(fanout));
            Health health = new Health(config.server().version(), config.server().revision(), lifecycle, checks, clock);
            auth = AuthModule.create(config, database.sql(), new LocalRevocations(), new InMemoryLoginThrottle(clock),
                    metrics, clock);
            ConversationStore conversations = new ConversationStore(database.sql(), clock);
            runs = new RunService(database.sql(), conversations, agent, fanout, config.runs(), metrics, clock);
            List<HttpService> routes = new ArrayList<>();
            routes.add(new AuthRoutes(auth.accounts(), auth.verifier(), config.auth().trustedProxyHops()));
            routes.add(new ThreadRoutes(conversations, runs, auth.verifier(), config.server().maxRequestBytes()));
            routes.add(new RunRoutes(runs, auth.verifier()));
            sockets = new SocketEndpoint(new SocketEndpoint.Dependencies(config, auth.verifier(), auth.revocations(),
                    database.sql(), runs, conversations, fanout, new LocalSocketCounter(), lifecycle, metrics, clock));
            Gateway gateway = Gateway.start(new Gateway.Services(config, metrics, health, lifecycle, routes), sockets);
            lifecycle.ready();
            return new App(config, lifecycle, metrics, database, auth, fanout, runs, sockets, gateway);
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
            if (auth != null) {
                auth.close();
            }
            database.close();
            throw e;
        }
    }

    private static HealthCheck fanoutCheck(Fanout fanout) {
        return new HealthCheck() {
            @Override
            public String name() {
                return "fanout";
            }

            @Override
            public State state() {
                return State.UP;
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

    public RunService runs() {
        return runs;
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
        auth.close();
        database.close();
        LOG.info("Stopped");
    }
}
