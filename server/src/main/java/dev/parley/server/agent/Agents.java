package dev.parley.server.agent;

import dev.parley.server.budget.Budgets;
import dev.parley.server.config.Config;
import dev.parley.server.health.HealthCheck;
import dev.parley.server.observe.Metrics;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.UsageStore;
import java.time.Clock;
import java.util.List;

/**
 * Builds the agent the configuration asks for: the offline spend-optimizer team when {@code PARLEY_LLM_PROVIDER} is
 * {@code none}, otherwise the supervisor that lets the configured model call the same tools. The agent serves every
 * run of the process; its {@link Agent#run} is called once per run on the run's own thread. Close it (it may be
 * {@link AutoCloseable}) when the process stops.
 */
public final class Agents {
    private Agents() {
    }

    /**
     * Readiness's {@code llm} check. The model is not probed (that would cost a call): it says whether one is
     * configured, and is {@code unreachable} (degraded: the rest of the service still works) while the provider is
     * known down.
     */
    public static HealthCheck healthCheck(Config.Agent config, Agent agent) {
        return HealthCheck.degradable("llm", agent::unreachable,
                () -> config.offline() ? "offline" : agent.unreachable() ? "unreachable" : "configured");
    }

    /** Puts the model provider's gauge on /metrics when a model is configured. */
    public static void registerGauges(Config.Agent config, Agent agent, Metrics metrics) {
        if (!config.offline()) {
            metrics.gauge("parley_llm_unreachable", "1 while the model provider is known to be unreachable (its "
                    + "calls are refused at once with llm_unavailable), else 0.", () -> agent.unreachable() ? 1 : 0);
        }
    }

    public static Agent create(Config.Agent config, UsageStore usage, PriceCatalog catalog, Clock clock) {
        return create(config, usage, catalog, clock, Sleeper.THREAD);
    }

    /**
     * As {@link #create(Config.Agent, UsageStore, PriceCatalog, Clock)}, with the spend ledger that a language model's
     * calls reserve from and are charged to ({@code null} or disabled: no budgets).
     */
    public static Agent create(Config.Agent config, UsageStore usage, PriceCatalog catalog, Clock clock,
                               Budgets budgets) {
        return create(config, usage, catalog, clock, Sleeper.THREAD, budgets, RemoteTools.NONE, ToolPolicy.DEFAULT);
    }

    /** As {@link #create(Config.Agent, UsageStore, PriceCatalog, Clock)}, with the offline team's pauses passed in. */
    public static Agent create(Config.Agent config, UsageStore usage, PriceCatalog catalog, Clock clock,
                               Sleeper sleeper) {
        return create(config, usage, catalog, clock, sleeper, null, RemoteTools.NONE, ToolPolicy.DEFAULT);
    }

    /**
     * The agent with everything passed in: the offline team's pauses, the spend ledger ({@code null}: no budgets), the
     * tools of MCP servers offered to the language model beside the built-in ones, and the policy every call is
     * subject to.
     */
    public static Agent create(Config.Agent config, UsageStore usage, PriceCatalog catalog, Clock clock,
                               Sleeper sleeper, Budgets budgets, RemoteTools remote, ToolPolicy policy) {
        Toolbox tools = tools(usage, catalog, remote, policy);
        if (config.offline()) {
            return new OfflineTeam(tools, catalog, config.stepDelay(), sleeper);
        }
        return new LlmSupervisor(config, tools, catalog, clock, budgets);
    }

    private static Toolbox tools(UsageStore usage, PriceCatalog catalog, RemoteTools remote, ToolPolicy policy) {
        return new Toolbox(List.of(
                new QueryUsageTool(usage),
                new PriceCatalogTool(catalog),
                new EstimateSavingsTool(usage, catalog)), remote, policy);
    }
}
