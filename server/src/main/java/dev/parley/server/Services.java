package dev.parley.server;

import dev.parley.server.agent.Agent;
import dev.parley.server.agent.Agents;
import dev.parley.server.agent.Sleeper;
import dev.parley.server.agent.ToolPolicy;
import dev.parley.server.auth.AuthModule;
import dev.parley.server.auth.oidc.OidcSignIn;
import dev.parley.server.budget.Budgets;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.db.Database;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.fanout.FanoutGauges;
import dev.parley.server.gateway.AuthRoutes;
import dev.parley.server.gateway.BudgetRoutes;
import dev.parley.server.gateway.OidcRoutes;
import dev.parley.server.gateway.RunRoutes;
import dev.parley.server.gateway.SocketEndpoint;
import dev.parley.server.gateway.ThreadRoutes;
import dev.parley.server.gateway.ToolRoutes;
import dev.parley.server.gateway.UsageRoutes;
import dev.parley.server.gateway.WebRoutes;
import dev.parley.server.health.Health;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.mcp.McpCredentials;
import dev.parley.server.mcp.McpServers;
import dev.parley.server.observe.Metrics;
import dev.parley.server.run.RunEventLog;
import dev.parley.server.run.RunService;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.SampleUsage;
import dev.parley.server.usage.UsageIngest;
import dev.parley.server.usage.UsageStore;
import io.helidon.webserver.http.HttpService;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.stream.Stream;

/**
 * Everything between the stores and the listener, built in dependency order: the ledger, the tools and the agent,
 * the fan-out, readiness, sign-in, the runs, the HTTP routes and the socket endpoint. Each part that must be closed
 * goes on the {@link StartedParts} stack as it starts.
 */
record Services(Agent agent, UsageStore usage, Budgets budgets, AuthModule auth, Fanout fanout, RunService runs,
                SocketEndpoint sockets, Health health, List<HttpService> routes) {

    /** What every part is built from: the settings, the clock and the process-wide parts. */
    record Context(Config config, Clock clock, Lifecycle lifecycle, Metrics metrics, ScheduledExecutorService scheduler,
                   StartedParts parts) {
    }

    /** {@code agentOverride} replaces the configured agent ({@code null}: the configured one). */
    static Services start(Context context, Database database, Agent agentOverride) {
        Config config = context.config();
        Clock clock = context.clock();
        Metrics metrics = context.metrics();
        StartedParts parts = context.parts();
        SharedParts shared = SharedParts.start(config, database, clock, context.scheduler(), parts);
        PriceCatalog prices = PriceCatalog.bundled();
        UsageStore usage = new UsageStore(database.sql(), clock);
        Budgets budgets = parts.add("budgets", new Budgets(database.sql(), config.budget(), metrics, clock,
                context.scheduler()));
        ToolPolicy policy = new ToolPolicy(config.tools().policy());
        McpCredentials credentials = config.tools().credentialsKey()
                .map(key -> new McpCredentials(database.sql(), key, clock)).orElse(null);
        McpServers mcp = parts.add("mcp", McpServers.start(config.tools().mcpServers(), policy,
                config.server().version(), credentials, metrics));
        Agent agent = agentOverride != null ? agentOverride
                : Agents.create(config.agent(), usage, prices, clock, Sleeper.THREAD, budgets, mcp, policy);
        parts.add("agent", agent, () -> {
            if (agent instanceof AutoCloseable closeable) {
                closeable.close();
            }
        });
        database.registerGauges(metrics);
        RunEventLog eventLog = new RunEventLog(database.sql());
        Fanout fanout = parts.add("fanout", shared.fanout(eventLog, clock));
        FanoutGauges.register(fanout, metrics);
        Agents.registerGauges(config.agent(), agent, metrics);
        Health health = new Health(config.server().version(), config.server().revision(), context.lifecycle(),
                Stream.concat(Stream.of(database.healthCheck(), fanout.healthCheck(),
                        Agents.healthCheck(config.agent(), agent)), mcp.healthCheck().stream()).toList(), clock);
        AuthModule auth = parts.add("auth", AuthModule.create(config, database.sql(), shared.revocations(),
                shared.throttle(), metrics, clock, context.scheduler()));
        ConversationStore conversations = new ConversationStore(database.sql(), clock);
        RunService runs = parts.add("runs", new RunService(database.sql(), database.eventLogSql(), eventLog,
                conversations, agent, fanout, config.runs(), metrics, clock, config.tools().approvalTimeout()));
        if (database.embedded()) {
            // One SQLite writer: the ledger's transactions join the run journal's commits instead of waiting in
            // SQLite's busy handler beside them, and a start takes its first call's hold in its own unit.
            // PostgreSQL runs them on the pool, side by side: through the journal, their statements would queue
            // one round trip after another on its single connection.
            budgets.writeThroughStarts(runs::writeLedger);
        }
        OidcSignIn oidc = parts.add("oidc", OidcSignIn.create(config, database.sql(), auth.accounts(),
                shared.throttle(), metrics, clock, context.scheduler()));
        int maxBytes = config.server().maxRequestBytes();
        List<HttpService> routes = List.of(
                new AuthRoutes(auth.accounts(), auth.verifier(), config.auth().trustedProxyHops(), oidc.providers()),
                new OidcRoutes(oidc, config.auth().trustedProxyHops()),
                new UsageRoutes(usage, new UsageIngest(prices, clock), new SampleUsage(prices), auth.verifier(), clock,
                        maxBytes),
                new ThreadRoutes(conversations, runs, auth.verifier(), maxBytes),
                new RunRoutes(runs, auth.verifier()),
                new BudgetRoutes(budgets, auth.accounts(), auth.verifier(), maxBytes),
                new ToolRoutes(runs.approvals(), mcp, auth.verifier(), maxBytes),
                WebRoutes.fromClasspath(config.server().publicUrl()));
        SocketEndpoint sockets = parts.add("sockets", new SocketEndpoint(new SocketEndpoint.Dependencies(config,
                auth.verifier(), auth.revocations(), database.sql(), runs, conversations, fanout, shared.counter(),
                context.lifecycle(), metrics, clock)));
        return new Services(agent, usage, budgets, auth, fanout, runs, sockets, health, routes);
    }
}
