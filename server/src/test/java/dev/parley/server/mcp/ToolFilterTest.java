package dev.parley.server.mcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.config.Config;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a server's {@code allow_tools} and {@code deny_tools} let the model see. */
class ToolFilterTest {
    private static Config.McpServer server(String lists) {
        return Config.from(Map.of("PARLEY_MCP_SERVERS", "[{\"id\":\"files\",\"url\":\"https://mcp.example.com/mcp\""
                + lists + "}]")).tools().mcpServers().getFirst();
    }

    @Test
    void withoutListsEveryToolIsSeen() {
        assertThat(McpServers.allowed(server(""), "delete_file")).isTrue();
    }

    @Test
    void anAllowListLetsOnlyItsToolsThroughAndADenyListWinsOverIt() {
        Config.McpServer files = server(",\"allow_tools\":[\"read_*\",\"delete_temp\"],\"deny_tools\":[\"delete_*\"]");
        assertThat(McpServers.allowed(files, "read_file")).isTrue();
        assertThat(McpServers.allowed(files, "write_file")).isFalse();
        assertThat(McpServers.allowed(files, "delete_temp")).as("denied although allowed").isFalse();
    }

    @Test
    void aDenyListAloneHidesOnlyItsTools() {
        Config.McpServer files = server(",\"deny_tools\":[\"delete_*\"]");
        assertThat(McpServers.allowed(files, "write_file")).isTrue();
        assertThat(McpServers.allowed(files, "delete_file")).isFalse();
    }
}
