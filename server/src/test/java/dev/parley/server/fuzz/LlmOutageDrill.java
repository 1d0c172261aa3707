package dev.parley.server.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.budget.OpenAiWireServer;
import dev.parley.server.testing.ServerProcess;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestDatabases;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The model provider cut under load: 20 users each send a start_agent every 0.5 s to a server process whose model (a
 * local server speaking the OpenAI streaming wire format, two calls per run) sits behind a proxy; the proxy refuses
 * connections (or accepts them and goes silent) for a while and comes back, with no restart. Prints how the runs
 * ended by phase (when they were started), how long a run started during the cut took to end, runs left without an
 * end, whether every acknowledged message is stored, readiness's {@code llm} check going to {@code unreachable} and
 * back, and how long after the restore the first run completed again.
 *
 * <p>{@code bin/fuzz --llm-outage [refused|silent] [SECONDS]} runs it (30 s cut); LlmOutageDrillTest runs a short form
 * in the build. The server runs with {@code PARLEY_LLM_RESPONSE_TIMEOUT=2s} and {@code PARLEY_LLM_IDLE_TIMEOUT=5s}, an
 * operator's choice for a model that answers within seconds (the defaults, 30 s and 90 s, suit slow reasoning models).
 */
public final class LlmOutageDrill {
    static final int USERS = 20;
    static final Duration EVERY = Duration.ofMillis(500);
    static final String RESPONSE_TIMEOUT = "2s";
    static final String IDLE_TIMEOUT = "5s";

    public record Report(String mode, Duration cut, Map<String, Map<String, Long>> endings, List<Long> endMillisDuringCut,
                         long unended, long acknowledged, long acknowledgedButNotStored, long unreachableAfterMillis,
                         long reachableAgainAfterMillis, long firstCompletedAfterRestoreMillis, long socketsClosed,
                         boolean serverAlive) {
        long percentile(double p) {
            return OutageLoad.percentile(endMillisDuringCut, p);
        }

        public String summary() {
            return "model provider outage drill (" + mode + ", " + cut.toSeconds() + " s): run endings by phase started "
                    + endings + '\n'
                    + "start to end of the runs started during the cut: p50 " + percentile(0.5) + " ms, p99 "
                    + percentile(0.99) + " ms, max " + percentile(1.0) + " ms over " + endMillisDuringCut.size()
                    + " runs\n"
                    + "runs without an end: " + unended + "; acknowledged: " + acknowledged + ", of them not stored: "
                    + acknowledgedButNotStored + "\n"
                    + "readiness llm unreachable " + unreachableAfterMillis + " ms after the cut, configured again "
                    + reachableAgainAfterMillis + " ms after the restore; first run completed "
                    + firstCompletedAfterRestoreMillis + " ms after the restore\n"
                    + "sockets closed: " + socketsClosed + "; server alive: " + serverAlive + '\n';
        }
    }

    private record Sent(long at, String phase) {
    }

    private final Map<String, Sent> sent = new ConcurrentHashMap<>();
    private final Map<String, String> runOf = new ConcurrentHashMap<>();
    private final Map<String, String> requestOfRun = new ConcurrentHashMap<>();
    private final Map<String, String> ending = new ConcurrentHashMap<>();
    private final Map<String, String> refused = new ConcurrentHashMap<>();
    private final Map<String, Long> endedAt = new ConcurrentHashMap<>();
    private final AtomicLong firstCompletedAfterRestore = new AtomicLong(-1);
    private volatile long restoredAt = Long.MAX_VALUE;
    private volatile String phase = "before";

    public static Report run(boolean silent, Duration before, Duration cut, Duration after) throws Exception {
        return new LlmOutageDrill().drill(silent, before, cut, after);
    }

    private Report drill(boolean silent, Duration before, Duration cut, Duration after) throws Exception {
        String url = TestDatabases.freshPostgresSchema();
        Path data = Files.createTempDirectory("parley-llm-outage");
        try (OpenAiWireServer model = new OpenAiWireServer(2, 1200, 80);
             TcpProxy proxy = TcpProxy.to("127.0.0.1", URI.create(model.baseUrl()).getPort());
             ServerProcess server = ServerProcess.start(data, Map.of(
                     "PARLEY_DATABASE_URL", url,
                     "PARLEY_JWT_SECRET", "a-model-outage-drill-secret-of-at-least-32-bytes",
                     "PARLEY_SIGNUP_LIMIT", "1000",
                     "PARLEY_LLM_PROVIDER", "openai",
                     "PARLEY_LLM_MODEL", OpenAiWireServer.MODEL,
                     "PARLEY_LLM_API_KEY", "drill-key",
                     "PARLEY_LLM_BASE_URL", "http://127.0.0.1:" + proxy.port() + "/v1",
                     "PARLEY_LLM_RESPONSE_TIMEOUT", RESPONSE_TIMEOUT,
                     "PARLEY_LLM_IDLE_TIMEOUT", IDLE_TIMEOUT), SocketFuzzer.IMAGE_JVM_FLAGS);
             HttpClient http = HttpClient.newHttpClient()) {
            if (!server.awaitReady()) {
                throw new IllegalStateException("the server did not become ready:\n" + server.log());
            }
            List<SocketClient> sockets = OutageLoad.signUp(http, server, USERS, "llm-outage");
            long end = System.nanoTime() + before.plus(cut).plus(after).toNanos();
            List<Thread> threads = OutageLoad.drive(sockets,
                    (socket, user) -> OutageLoad.sendStarts(socket, "llm-u" + user, end, EVERY,
                            request -> sent.put(request, new Sent(System.nanoTime(), phase))),
                    socket -> read(socket, end));
            Thread.sleep(before.toMillis());
            long cutAt = System.nanoTime();
            phase = "during";
            if (silent) {
                proxy.blackHole();
            } else {
                proxy.cut();
            }
            long unreachable = awaitLlmCheck(http, server, "unreachable", cutAt);
            Thread.sleep(Math.max(0, cut.toMillis() - (System.nanoTime() - cutAt) / 1_000_000));
            restoredAt = System.nanoTime();
            proxy.restore();
            phase = "after";
            long reachable = awaitLlmCheck(http, server, "configured", restoredAt);
            for (Thread thread : threads) {
                thread.join();
            }
            long closed = sockets.stream().filter(SocketClient::isClosed).count();
            sockets.forEach(SocketClient::close);

            Map<String, Map<String, Long>> endings = new TreeMap<>();
            List<Long> duringMillis = new ArrayList<>();
            long unended = 0;
            List<String> acknowledged = new ArrayList<>();
            for (Map.Entry<String, Sent> entry : sent.entrySet()) {
                String request = entry.getKey();
                String run = runOf.get(request);
                String how = run != null ? ending.getOrDefault(run, "no_end")
                        : refused.containsKey(request) ? "refused_" + refused.get(request) : "not_started";
                endings.computeIfAbsent(entry.getValue().phase(), p -> new TreeMap<>()).merge(how, 1L, Long::sum);
                if (run != null) {
                    acknowledged.add(request);
                    if (!ending.containsKey(run)) {
                        unended++;
                    } else if (entry.getValue().phase().equals("during")) {
                        duringMillis.add((endedAt.get(run) - entry.getValue().at()) / 1_000_000);
                    }
                }
            }
            long recovery = firstCompletedAfterRestore.get();
            return new Report(silent ? "silent" : "refused", cut, endings, duringMillis, unended, acknowledged.size(),
                    OutageLoad.notStored(url, acknowledged), unreachable, reachable,
                    recovery < 0 ? -1 : (recovery - restoredAt) / 1_000_000, closed, server.process().isAlive());
        }
    }

    private void read(SocketClient socket, long end) {
        // Runs started last may take the idle timeout and more to end: read on well past the sending.
        long stop = end + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < stop && !socket.isClosed()) {
            JsonNode frame;
            try {
                frame = socket.next(Duration.ofMillis(500));
            } catch (AssertionError timeout) {
                if (sent.size() > 0 && System.nanoTime() > end && allEnded()) {
                    return;
                }
                continue;
            }
            String type = frame.path("type").asText();
            JsonNode data = frame.path("data");
            String run = frame.path("run_id").asText(null);
            switch (type) {
                case "agent_started" -> {
                    String request = data.path("user_request").asText();
                    runOf.put(request, run);
                    requestOfRun.put(run, request);
                }
                case "agent_completed" -> end(run, data.path("status").asText("completed"));
                case "agent_error" -> end(run, data.path("error").path("code").asText("unknown"));
                case "error" -> refused.putIfAbsent(data.path("in_reply_to").asText(),
                        data.path("error").path("code").asText());
                default -> {
                }
            }
        }
    }

    private void end(String run, String how) {
        long now = System.nanoTime();
        if (ending.putIfAbsent(run, how) == null) {
            endedAt.put(run, now);
            Sent started = sent.get(requestOfRun.getOrDefault(run, ""));
            if (how.equals("completed") && started != null && started.at() > restoredAt) {
                firstCompletedAfterRestore.compareAndSet(-1, now);
            }
        }
    }

    private boolean allEnded() {
        return runOf.values().stream().allMatch(ending::containsKey);
    }

    private static long awaitLlmCheck(HttpClient http, ServerProcess server, String state, long since)
            throws Exception {
        while (true) {
            HttpResponse<String> ready = http.send(HttpRequest.newBuilder(server.uri("/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (Json.parse(ready.body()).path("checks").path("llm").asText().equals(state)) {
                return (System.nanoTime() - since) / 1_000_000;
            }
            if (System.nanoTime() - since > TimeUnit.SECONDS.toNanos(60)) {
                return -1;
            }
            Thread.sleep(20);
        }
    }


    /** {@code bin/fuzz --llm-outage [refused|silent] [SECONDS]}. */
    public static void main(String[] args) throws Exception {
        boolean silent = args.length > 0 && args[0].equals("silent");
        Duration cut = Duration.ofSeconds(args.length > 1 ? Long.parseLong(args[1]) : 30);
        Report report = run(silent, Duration.ofSeconds(10), cut, Duration.ofSeconds(10));
        System.out.print(report.summary());
        if (report.acknowledgedButNotStored() > 0 || !report.serverAlive() || report.unended() > 0
                || report.socketsClosed() > 0) {
            System.out.println("model provider outage drill: FAILED");
            System.exit(1);
        }
    }
}
