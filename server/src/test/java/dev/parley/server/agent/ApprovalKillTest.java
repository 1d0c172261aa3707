package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.McpTestServer;
import dev.parley.server.testing.ServerProcess;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestRedis;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Approvals when the instance that runs the run is killed (SIGKILL): two server processes on one PostgreSQL (and
 * Redis), a real MCP server whose {@code write_note} counts its calls, and a scripted model that asks for it. Killed
 * while the call waits for a person, the survivor ends the run once its lease runs out and settles the approval
 * {@code cancelled}, and the call never runs; killed while the approved call runs, the run ends on the survivor and
 * the call ran once, never again.
 */
class ApprovalKillTest {
    /** Lease plus maintenance is 4 s; a slow, shared machine gets far more before the run counts as pending. */
    private static final Duration RUN_ENDS_WITHIN = Duration.ofSeconds(45);
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private McpTestServer mcp;
    private ScriptedLlmServer llm;
    private ServerProcess doomed;
    private ServerProcess survivor;
    private String token;

    @BeforeEach
    void start() throws Exception {
        mcp = new McpTestServer();
        llm = new ScriptedLlmServer();
        Map<String, String> env = llm.settings(Map.of());
        env.put("PARLEY_MCP_SERVERS", "[{\"id\":\"srv\",\"url\":\"" + mcp.url() + "\"}]");
        env.put("PARLEY_TOOL_POLICY", "srv__write_note=ask");
        env.put("PARLEY_DATABASE_URL", TestDatabases.freshPostgresSchema());
        env.put("PARLEY_REDIS_URL", TestRedis.url().toString());
        env.put("PARLEY_REDIS_PREFIX", TestRedis.freshPrefix());
        env.put("PARLEY_JWT_SECRET", TestApp.SECRET);
        env.put("PARLEY_DEV_LOGIN", "true");
        env.put("PARLEY_RUN_LEASE", "3s");
        env.put("PARLEY_RUN_MAX_LOG_DELAY", "0");
        doomed = ServerProcess.start(Files.createTempDirectory("parley-approval-a"), env);
        survivor = ServerProcess.start(Files.createTempDirectory("parley-approval-b"), env);
        assertThat(doomed.awaitReady()).as("log: %s", doomed.log()).isTrue();
        assertThat(survivor.awaitReady()).as("log: %s", survivor.log()).isTrue();
        token = post(survivor.uri("/auth/dev/login"), "{\"email\":\"approver@example.com\"}").json()
                .path("access_token").asText();
        Await.until("the MCP server connected to the doomed instance", Duration.ofSeconds(30),
                () -> get(doomed.uri("/api/mcp/servers")).json().path("servers").path(0).path("status").asText()
                        .equals("connected"));
    }

    @AfterEach
    void stop() throws Exception {
        if (doomed != null) {
            doomed.close();
        }
        if (survivor != null) {
            survivor.close();
        }
        if (llm != null) {
            llm.close();
        }
        if (mcp != null) {
            mcp.close();
        }
    }

    @Test
    void killedWhileWaitingTheSurvivorCancelsTheApprovalEndsTheRunAndTheCallNeverRuns() throws Exception {
        JsonNode required = startWaiting("waiting");
        String runId = required.path("run_id").asText();
        String approvalId = required.path("data").path("approval_id").asText();
        assertThat(get(survivor.uri("/api/runs/" + runId)).json().path("status").asText())
                .isEqualTo("awaiting_approval");

        doomed.kill();

        List<JsonNode> events = awaitEnded(runId);
        List<String> types = types(events);
        assertThat(types).containsSubsequence("approval_required", "approval_resolved", "agent_error");
        assertThat(types).doesNotContain("tool_executing", "tool_completed");
        JsonNode resolved = events.get(types.lastIndexOf("approval_resolved"));
        assertThat(resolved.path("data").path("approval_id").asText()).isEqualTo(approvalId);
        assertThat(resolved.path("data").path("decision").asText()).isEqualTo("cancelled");
        assertThat(events.getLast().path("type").asText()).isEqualTo("agent_error");
        assertThat(events.getLast().path("data").path("error").path("code").asText()).isEqualTo("service_restart");

        Response late = post(survivor.uri("/api/approvals/" + approvalId), "{\"decision\":\"approve\"}");
        assertThat(late.status()).isEqualTo(409);
        assertThat(late.json().path("error").path("code").asText()).isEqualTo("approval_resolved");
        assertThat(writeCalls("waiting")).isZero();
    }

    @Test
    void killedWhileTheApprovedCallRunsTheRunEndsOnTheSurvivorAndTheCallRanOnce() throws Exception {
        mcp.holdWrites();
        JsonNode required = startWaiting("running");
        String runId = required.path("run_id").asText();
        String approvalId = required.path("data").path("approval_id").asText();
        // Should the run go on (it must not), the model has an answer for it.
        llm.then(OpenAiScript.answer("Noted."));

        Response decided = post(survivor.uri("/api/approvals/" + approvalId), "{\"decision\":\"approve\"}");
        assertThat(decided.status()).as(decided.body()).isEqualTo(200);
        Await.until("the MCP server received the approved call", Duration.ofSeconds(30),
                () -> writeCalls("running") == 1);
        doomed.kill();
        // What the killed instance had sent is answered now, into a closed connection.
        mcp.releaseWrites();

        List<JsonNode> events = awaitEnded(runId);
        List<String> types = types(events);
        assertThat(types).containsSubsequence("approval_required", "approval_resolved", "agent_error");
        assertThat(events.get(types.indexOf("approval_resolved")).path("data").path("decision").asText())
                .isEqualTo("approved");
        assertThat(types.stream().filter("approval_resolved"::equals)).hasSize(1);
        assertThat(events.getLast().path("type").asText()).isEqualTo("agent_error");
        assertThat(events.getLast().path("data").path("error").path("code").asText()).isEqualTo("service_restart");

        Response late = post(survivor.uri("/api/approvals/" + approvalId), "{\"decision\":\"approve\"}");
        assertThat(late.status()).isEqualTo(409);
        assertThat(late.json().path("error").path("code").asText()).isEqualTo("approval_resolved");
        // Two more leases and maintenance passes: nobody picks the call up again.
        long since = System.nanoTime();
        Await.until("the survivor had time to run the call again", Duration.ofSeconds(20),
                () -> System.nanoTime() - since > Duration.ofSeconds(8).toNanos());
        assertThat(writeCalls("running")).isEqualTo(1);
        assertThat(get(survivor.uri("/api/runs/" + runId)).json().path("status").asText()).isEqualTo("failed");
    }

    /** Starts, over a socket on the doomed instance, a run whose model calls srv__write_note; its approval_required. */
    private JsonNode startWaiting(String text) {
        llm.then(OpenAiScript.toolCall("call_" + text, "srv__write_note", "{\"text\":\"" + text + "\"}"));
        SocketClient socket = SocketClient.connect(http, doomed.wsUri("/ws"),
                Map.of("Authorization", "Bearer " + token), List.of());
        awaitFrame(socket, "connection_established");
        socket.send("start_agent", Json.object().put("user_request", "Write " + text), null);
        awaitFrame(socket, "agent_started");
        // The socket is left open: it drops with the process.
        return awaitFrame(socket, "approval_required");
    }

    private static JsonNode awaitFrame(SocketClient socket, String type) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode frame = socket.next(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            if (frame.path("type").asText().equals(type)) {
                return frame;
            }
            assertThat(frame.path("type").asText()).as(frame.toString()).isNotIn("error", "agent_error");
        }
        throw new AssertionError("no " + type + " within 30 s: " + socket.summary());
    }

    /** Waits until the survivor shows the run over; its stored events, the last of them the run's end. */
    private List<JsonNode> awaitEnded(String runId) {
        String[] status = {null};
        Await.until("the survivor ended run " + runId + " (last status: " + status[0] + ")", RUN_ENDS_WITHIN, () -> {
            status[0] = get(survivor.uri("/api/runs/" + runId)).json().path("status").asText();
            return !status[0].equals("running") && !status[0].equals("awaiting_approval");
        });
        assertThat(status[0]).isEqualTo("failed");
        JsonNode page = get(survivor.uri("/api/runs/" + runId + "/events?after_seq=0")).json();
        assertThat(page.path("complete").asBoolean()).as(page.toString()).isTrue();
        List<JsonNode> events = new ArrayList<>();
        page.path("events").forEach(events::add);
        return events;
    }

    private long writeCalls(String text) {
        return mcp.calls().stream().filter(call -> call.tool().equals("write_note")
                && call.arguments().path("text").asText().equals(text)).count();
    }

    private static List<String> types(List<JsonNode> events) {
        return events.stream().map(e -> e.path("type").asText()).toList();
    }

    private record Response(int status, String body) {
        JsonNode json() {
            return Json.parse(body);
        }
    }

    private Response post(URI uri, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return send(request.build());
    }

    private Response get(URI uri) {
        return send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + token).build());
    }

    private Response send(HttpRequest request) {
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            return new Response(response.statusCode(), response.body());
        } catch (IOException e) {
            throw new IllegalStateException("no answer from " + request.uri(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
