package dev.parley.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PARLEY_MCP_SERVERS, PARLEY_TOOL_POLICY and PARLEY_APPROVAL_TIMEOUT: read, and refused at start when wrong. */
class ToolSettingsTest {
    private static List<String> problems(Map<String, String> env) {
        try {
            Config.from(env);
        } catch (ConfigException e) {
            return e.problems();
        }
        throw new AssertionError("no problem reported for " + env);
    }

    @Test
    void noServersAndTheDefaultPolicyByDefault() {
        Config.Tools tools = Config.from(Map.of()).tools();
        assertThat(tools.mcpServers()).isEmpty();
        assertThat(tools.policy()).isEmpty();
        assertThat(tools.approvalTimeout()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void aServerIsReadWithItsCredentialFromTheVariableItNames() {
        Config.Tools tools = Config.from(Map.of(
                "PARLEY_MCP_SERVERS", "[{\"id\":\"files\",\"url\":\"https://mcp.example.com/mcp\",\"auth\":"
                        + "{\"mode\":\"static\",\"header\":\"X-Api-Key\",\"value_env\":\"FILES_TOKEN\"},"
                        + "\"allow_tools\":[\"read_*\"],\"deny_tools\":[\"delete_*\"],\"timeout_ms\":1500}]",
                "FILES_TOKEN", "s3cret",
                "PARLEY_TOOL_POLICY", "query_usage=ask, files__delete_*=deny,*=auto",
                "PARLEY_APPROVAL_TIMEOUT", "90s")).tools();
        Config.McpServer files = tools.mcpServers().getFirst();
        assertThat(files.id()).isEqualTo("files");
        assertThat(files.url().toString()).isEqualTo("https://mcp.example.com/mcp");
        assertThat(files.authMode()).isEqualTo(Config.McpAuthMode.STATIC);
        assertThat(files.authHeader()).contains("X-Api-Key");
        assertThat(files.authValue()).contains("s3cret");
        assertThat(files.allowTools()).containsExactly("read_*");
        assertThat(files.denyTools()).containsExactly("delete_*");
        assertThat(files.timeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(files.toString()).doesNotContain("s3cret");
        assertThat(tools.policy()).containsExactly(
                new Config.PolicyRule("query_usage", Config.PolicyAction.ASK),
                new Config.PolicyRule("files__delete_*", Config.PolicyAction.DENY),
                new Config.PolicyRule("*", Config.PolicyAction.AUTO));
        assertThat(tools.approvalTimeout()).isEqualTo(Duration.ofSeconds(90));
    }

    @Test
    void theServersMayComeFromAFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("mcp.json");
        Files.writeString(file, "[{\"id\":\"a\",\"url\":\"http://127.0.0.1:9/mcp\"}]");
        assertThat(Config.from(Map.of("PARLEY_MCP_SERVERS", file.toString())).tools().mcpServers())
                .extracting(Config.McpServer::id).containsExactly("a");
        assertThat(problems(Map.of("PARLEY_MCP_SERVERS", dir.resolve("missing.json").toString())))
                .singleElement().asString().startsWith("PARLEY_MCP_SERVERS:").contains("readable file");
    }

    @Test
    void aStdioServerTakesACommandLineOrAnArray() {
        List<Config.McpServer> servers = Config.from(Map.of("PARLEY_MCP_SERVERS", "[{\"id\":\"a\",\"transport\":"
                + "\"stdio\",\"command\":\"npx -y files-mcp  /data\"},{\"id\":\"b\",\"transport\":\"stdio\","
                + "\"command\":[\"/usr/bin/files mcp\",\"--root\",\"/data\"]}]")).tools().mcpServers();
        assertThat(servers.get(0).command()).containsExactly("npx", "-y", "files-mcp", "/data");
        assertThat(servers.get(1).command()).containsExactly("/usr/bin/files mcp", "--root", "/data");
        assertThat(servers.get(1).transport()).isEqualTo(Config.McpTransport.STDIO);
    }

    @Test
    void badJsonIsRefusedNamingTheVariable() {
        assertThat(problems(Map.of("PARLEY_MCP_SERVERS", "[{\"id\":")))
                .singleElement().asString().startsWith("PARLEY_MCP_SERVERS: is not valid JSON");
        assertThat(problems(Map.of("PARLEY_MCP_SERVERS", "[1]")))
                .singleElement().asString().contains("server 1 must be an object");
    }

    @Test
    void everyProblemOfEveryServerIsReportedAtOnce() {
        List<String> problems = problems(Map.of("PARLEY_MCP_SERVERS", "["
                + "{\"id\":\"Bad Id\",\"url\":\"https://x/mcp\"},"
                + "{\"id\":\"ok\",\"url\":\"ftp://x/mcp\",\"colour\":\"red\"},"
                + "{\"id\":\"local\",\"transport\":\"stdio\",\"command\":\"mcp-files\",\"auth\":{\"mode\":\"static\",\"value_env\":\"PATH\"}},"
                + "{\"id\":\"bare\",\"transport\":\"stdio\"},"
                + "{\"id\":\"mine\",\"url\":\"https://x/mcp\",\"auth\":{\"mode\":\"user_secret\"}},"
                + "{\"id\":\"keyed\",\"url\":\"https://x/mcp\",\"auth\":{\"mode\":\"static\",\"value_env\":\"NOPE_TOKEN\"}},"
                + "{\"id\":\"slow\",\"url\":\"https://x/mcp\",\"timeout_ms\":5},"
                + "{\"id\":\"twice\",\"url\":\"https://x/mcp\"},{\"id\":\"twice\",\"url\":\"https://y/mcp\"}]",
                "PARLEY_TOOL_POLICY", "query_usage=maybe,=auto"));
        assertThat(problems)
                .anySatisfy(line -> assertThat(line).contains("server 1: 'id' must be 1 to 32"))
                .anySatisfy(line -> assertThat(line).contains("server 'ok': 'url' must be an absolute http"))
                .anySatisfy(line -> assertThat(line).contains("server 'ok' has an unknown field 'colour'"))
                .anySatisfy(line -> assertThat(line).contains("server 'local': a stdio server takes no credential"))
                .anySatisfy(line -> assertThat(line).contains("server 'bare': 'command' is required for the stdio"))
                .anySatisfy(line -> assertThat(line).startsWith("PARLEY_MCP_CREDENTIALS_KEY: is required when a server"))
                .anySatisfy(line -> assertThat(line).startsWith("NOPE_TOKEN: is required by server 'keyed'"))
                .anySatisfy(line -> assertThat(line).contains("server 'slow': 'timeout_ms' must be"))
                .anySatisfy(line -> assertThat(line).contains("names the server id 'twice' twice"))
                .anySatisfy(line -> assertThat(line).startsWith("PARLEY_TOOL_POLICY: 'query_usage=maybe'"))
                .anySatisfy(line -> assertThat(line).startsWith("PARLEY_TOOL_POLICY: '=auto'"));
    }

    @Test
    void userSecretServersTakeAKeyOfExactly32Bytes() {
        String servers = "[{\"id\":\"mine\",\"url\":\"https://x/mcp\",\"auth\":{\"mode\":\"user_secret\"}}]";
        String key = java.util.Base64.getEncoder().encodeToString(new byte[32]);
        Config.Tools tools = Config.from(Map.of("PARLEY_MCP_SERVERS", servers, "PARLEY_MCP_CREDENTIALS_KEY", key)).tools();
        assertThat(tools.mcpServers().getFirst().authMode()).isEqualTo(Config.McpAuthMode.USER_SECRET);
        assertThat(tools.credentialsKey()).hasValueSatisfying(bytes -> assertThat(bytes).hasSize(32));
        assertThat(problems(Map.of("PARLEY_MCP_SERVERS", servers, "PARLEY_MCP_CREDENTIALS_KEY", "c2hvcnQ=")))
                .singleElement().asString().startsWith("PARLEY_MCP_CREDENTIALS_KEY: must be base64 of exactly 32");
        assertThat(problems(Map.of("PARLEY_MCP_SERVERS", servers, "PARLEY_MCP_CREDENTIALS_KEY", "not base64!")))
                .singleElement().asString().startsWith("PARLEY_MCP_CREDENTIALS_KEY: must be base64");
    }

    @Test
    void anApprovalTimeoutOutOfRangeIsRefused() {
        assertThat(problems(Map.of("PARLEY_APPROVAL_TIMEOUT", "0")))
                .singleElement().asString().startsWith("PARLEY_APPROVAL_TIMEOUT:");
    }
}
