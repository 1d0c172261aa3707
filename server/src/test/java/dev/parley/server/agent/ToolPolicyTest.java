package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.parley.server.config.Config;
import java.util.List;
import org.junit.jupiter.api.Test;

class ToolPolicyTest {
    private static RemoteTool remote(String server, String tool, boolean readOnly) {
        String name = server + "__" + tool;
        return new RemoteTool(name, server, tool, "", ToolSpecification.builder().name(name).build(), readOnly);
    }

    @Test
    void withoutRulesBuiltInAndReadOnlyToolsRunAndOtherMcpToolsAsk() {
        assertThat(ToolPolicy.DEFAULT.forBuiltin("query_usage")).isEqualTo(Config.PolicyAction.AUTO);
        assertThat(ToolPolicy.DEFAULT.forRemote(remote("files", "read", true))).isEqualTo(Config.PolicyAction.AUTO);
        assertThat(ToolPolicy.DEFAULT.forRemote(remote("files", "delete", false))).isEqualTo(Config.PolicyAction.ASK);
    }

    @Test
    void theFirstMatchingRuleWinsOverTheDefault() {
        ToolPolicy policy = new ToolPolicy(List.of(
                new Config.PolicyRule("files__delete_*", Config.PolicyAction.DENY),
                new Config.PolicyRule("files__*", Config.PolicyAction.ASK),
                new Config.PolicyRule("query_usage", Config.PolicyAction.ASK)));
        assertThat(policy.forRemote(remote("files", "delete_all", false))).isEqualTo(Config.PolicyAction.DENY);
        assertThat(policy.forRemote(remote("files", "read", true))).isEqualTo(Config.PolicyAction.ASK);
        assertThat(policy.forRemote(remote("web", "fetch", true))).isEqualTo(Config.PolicyAction.AUTO);
        assertThat(policy.forBuiltin("query_usage")).isEqualTo(Config.PolicyAction.ASK);
        assertThat(policy.forBuiltin("price_catalog")).isEqualTo(Config.PolicyAction.AUTO);
    }

    @Test
    void globsMatchWholeNames() {
        assertThat(ToolPolicy.globMatches("*", "")).isTrue();
        assertThat(ToolPolicy.globMatches("a*c", "abbc")).isTrue();
        assertThat(ToolPolicy.globMatches("a*c", "abcd")).isFalse();
        assertThat(ToolPolicy.globMatches("query_usage", "query_usage_x")).isFalse();
        assertThat(ToolPolicy.globMatches("*__delete_*", "files__delete_x")).isTrue();
    }
}
