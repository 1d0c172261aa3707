package dev.parley.server.agent;

import dev.parley.server.config.Config;
import java.util.List;

/**
 * Which tool calls run at once ({@code auto}), wait for a person ({@code ask}) or never run ({@code deny}):
 * {@code PARLEY_TOOL_POLICY}'s rules in order, the first whose glob matches the tool's full name wins; with none
 * matching, an MCP tool the server marks read-only is {@code auto} and any other MCP tool {@code ask}, and a built-in
 * tool is {@code auto}. Immutable.
 */
public final class ToolPolicy {
    /** No rules: the defaults only. */
    public static final ToolPolicy DEFAULT = new ToolPolicy(List.of());

    private final List<Config.PolicyRule> rules;

    public ToolPolicy(List<Config.PolicyRule> rules) {
        this.rules = List.copyOf(rules);
    }

    /** The action for a built-in tool. */
    public Config.PolicyAction forBuiltin(String name) {
        if (rules.isEmpty()) {
            return Config.PolicyAction.AUTO; // the common case, without a look at the name
        }
        return match(name, Config.PolicyAction.AUTO);
    }

    /** The action for a remote tool. */
    public Config.PolicyAction forRemote(RemoteTool tool) {
        return match(tool.name(), tool.readOnly() ? Config.PolicyAction.AUTO : Config.PolicyAction.ASK);
    }

    private Config.PolicyAction match(String name, Config.PolicyAction fallback) {
        for (Config.PolicyRule rule : rules) {
            if (globMatches(rule.pattern(), name)) {
                return rule.action();
            }
        }
        return fallback;
    }

    /** Whether {@code name} matches {@code glob}, in which {@code *} stands for any run of characters, none included. */
    public static boolean globMatches(String glob, String name) {
        return globMatches(glob, 0, name, 0);
    }

    private static boolean globMatches(String glob, int g, String name, int n) {
        while (g < glob.length()) {
            char c = glob.charAt(g);
            if (c == '*') {
                for (int rest = n; rest <= name.length(); rest++) {
                    if (globMatches(glob, g + 1, name, rest)) {
                        return true;
                    }
                }
                return false;
            }
            if (n >= name.length() || name.charAt(n) != c) {
                return false;
            }
            g++;
            n++;
        }
        return n == name.length();
    }
}
