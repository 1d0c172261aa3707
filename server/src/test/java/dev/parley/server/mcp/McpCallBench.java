package dev.parley.server.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.agent.RemoteTool;
import dev.parley.server.agent.ToolPolicy;
import dev.parley.server.config.Config;
import dev.parley.server.observe.Metrics;
import dev.parley.server.testing.McpTestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What an MCP tool call through Parley costs over the same call made by hand: one {@link McpTestServer} (Streamable
 * HTTP on localhost) answers both. Parley's side is {@link McpServers#call}, what a run invokes for a model's tool call
 * (policy already decided, the model left out). The direct side is a plain JSON-RPC {@code tools/call} POST with
 * java.net.http (HTTP/1.1, as Parley's client) on a session opened by hand, with the same headers, tool and
 * arguments, and its answer parsed as JSON. Both sides warm up, then run in alternating blocks so that load from the
 * rest of the machine falls on both alike. Prints the percentiles of both, their difference and the load average.
 *
 * <p>{@code java -cp server/target/test-classes:server/target/classes:server/target/libs/* \
 * dev.parley.server.mcp.McpCallBench [CALLS] [WARMUP]} (defaults 5000 and 2000), or {@code bin/mcp-bench}.
 */
public final class McpCallBench {
    private static final int BLOCK = 250;
    private static final String TOOL = "lookup";

    private McpCallBench() {
    }

    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
        int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
        System.out.println("load average before: " + loadAverage());
        try (McpTestServer server = new McpTestServer()) {
            Config.McpServer config = new Config.McpServer("bench", URI.create(server.url()),
                    Config.McpTransport.STREAMABLE_HTTP, List.of(), Config.McpAuthMode.NONE, Optional.empty(),
                    Optional.empty(), List.of(), List.of(), Duration.ofSeconds(30));
            try (McpServers mcp = McpServers.start(List.of(config), ToolPolicy.DEFAULT, "bench", null,
                    new Metrics());
                 Direct direct = new Direct(server.url())) {
                RemoteTool tool = awaitTool(mcp, "bench__" + TOOL);
                ObjectNode arguments = Json.object().put("query", "parley");

                for (int i = 0; i < warmup; i++) {
                    throughParley(mcp, tool, arguments);
                    direct.call(arguments);
                }
                long[] parley = new long[calls];
                long[] byHand = new long[calls];
                for (int done = 0; done < calls; done += BLOCK) {
                    int end = Math.min(calls, done + BLOCK);
                    for (int i = done; i < end; i++) {
                        long start = System.nanoTime();
                        direct.call(arguments);
                        byHand[i] = System.nanoTime() - start;
                    }
                    for (int i = done; i < end; i++) {
                        long start = System.nanoTime();
                        throughParley(mcp, tool, arguments);
                        parley[i] = System.nanoTime() - start;
                    }
                }
                System.out.printf("%d calls each after %d warm-up calls each, in alternating blocks of %d%n",
                        calls, warmup, BLOCK);
                System.out.println("load average after: " + loadAverage());
                Arrays.sort(parley);
                Arrays.sort(byHand);
                System.out.println("                     p50 ms    p95 ms    p99 ms   mean ms");
                print("direct JSON-RPC POST", byHand);
                print("through Parley      ", parley);
                System.out.printf("added by Parley      %8.3f  %8.3f  %8.3f  %8.3f%n",
                        ms(percentile(parley, 50) - percentile(byHand, 50)),
                        ms(percentile(parley, 95) - percentile(byHand, 95)),
                        ms(percentile(parley, 99) - percentile(byHand, 99)),
                        ms(mean(parley) - mean(byHand)));
                System.out.println("server saw " + server.calls().size() + " tools/call requests");
            }
        }
    }

    private static void throughParley(McpServers mcp, RemoteTool tool, JsonNode arguments) throws InterruptedException {
        JsonNode result = mcp.call(tool, "bench-user", arguments);
        if (!Json.write(result).contains("found parley")) {
            throw new IllegalStateException("unexpected answer through Parley: " + Json.write(result));
        }
    }

    private static RemoteTool awaitTool(McpServers mcp, String name) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<RemoteTool> tool = mcp.find(name);
            if (tool.isPresent()) {
                return tool.get();
            }
            Thread.sleep(20); // discovery runs in the background; a benchmark's set-up, not a test
        }
        throw new IllegalStateException("the MCP test server's tools were not discovered within 30 s");
    }

    /** A session opened by hand, and {@code tools/call} POSTs on it. */
    private static final class Direct implements AutoCloseable {
        private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        private final URI url;
        private final String session;
        private long ids;

        Direct(String url) throws Exception {
            this.url = URI.create(url);
            ObjectNode params = Json.object().put("protocolVersion", McpClient.PROTOCOL_VERSION);
            params.set("capabilities", Json.object());
            params.set("clientInfo", Json.object().put("name", "bench-direct").put("version", "1"));
            HttpResponse<String> opened = http.send(post(null, rpc("initialize", params, true)),
                    HttpResponse.BodyHandlers.ofString());
            session = opened.headers().firstValue("Mcp-Session-Id")
                    .orElseThrow(() -> new IllegalStateException("no session: " + opened.body()));
            http.send(post(session, rpc("notifications/initialized", Json.object(), false)),
                    HttpResponse.BodyHandlers.discarding());
        }

        void call(JsonNode arguments) throws Exception {
            ObjectNode params = Json.object().put("name", TOOL);
            params.set("arguments", arguments);
            HttpResponse<String> response = http.send(post(session, rpc("tools/call", params, true)),
                    HttpResponse.BodyHandlers.ofString());
            JsonNode answer = Json.parse(response.body());
            if (response.statusCode() != 200 || !answer.path("result").path("content").path(0).path("text").asText()
                    .equals("found parley")) {
                throw new IllegalStateException("unexpected direct answer: " + response.statusCode() + " "
                        + response.body());
            }
        }

        private ObjectNode rpc(String method, JsonNode params, boolean request) {
            ObjectNode message = Json.object().put("jsonrpc", "2.0");
            if (request) {
                message.put("id", ++ids);
            }
            message.put("method", method);
            message.set("params", params);
            return message;
        }

        private HttpRequest post(String sessionId, JsonNode body) {
            HttpRequest.Builder request = HttpRequest.newBuilder(url)
                    .timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json, text/event-stream")
                    .POST(HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8));
            if (sessionId != null) {
                request.header("Mcp-Session-Id", sessionId);
                request.header("MCP-Protocol-Version", McpClient.PROTOCOL_VERSION);
            }
            return request.build();
        }

        @Override
        public void close() {
            http.close();
        }
    }

    private static long percentile(long[] sorted, int p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    private static double mean(long[] values) {
        return Arrays.stream(values).average().orElse(0);
    }

    private static double ms(double nanos) {
        return nanos / 1_000_000.0;
    }

    private static void print(String label, long[] sorted) {
        System.out.printf("%s %8.3f  %8.3f  %8.3f  %8.3f%n", label, ms(percentile(sorted, 50)),
                ms(percentile(sorted, 95)), ms(percentile(sorted, 99)), ms(mean(sorted)));
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }
}
