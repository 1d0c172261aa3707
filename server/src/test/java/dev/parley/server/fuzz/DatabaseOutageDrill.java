package dev.parley.server.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.ServerProcess;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestDatabases;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * PostgreSQL cut under load, as an operator's bad day goes: 20 users each send a start_agent every 0.5 s over their
 * socket to a server process whose database sits behind a proxy; the proxy refuses connections (or goes silent) for
 * a while and comes back, with no restart. Prints the answers by code before, during and after the cut, the answer
 * times during it, messages unanswered after 10 s, readiness going down and up, whether every message that got
 * {@code agent_started} is stored, how the acknowledged runs ended (by {@code agent_completed} status or
 * {@code agent_error} code), and whether every answer that got {@code agent_completed} is stored.
 *
 * <p>{@code bin/fuzz --outage [refused|silent] [SECONDS [STEP_DELAY_MS]]} runs it (30 s cut by default; with a step
 * delay, runs last and some live through the cut); DatabaseOutageDrillTest runs a short form in the build, with runs
 * paced a second a step.
 */
public final class DatabaseOutageDrill {
    static final int USERS = 20;
    static final Duration EVERY = Duration.ofMillis(500);

    public record Report(String mode, Duration cut, Map<String, Map<String, Long>> answers, long unansweredAfter10s,
                         List<Long> answerMillisDuringCut, long notReadyAfterMillis, long readyAgainAfterMillis,
                         long acknowledged, long acknowledgedButNotStored, boolean serverAlive,
                         Map<String, Long> runEnds, long runsNotEnded, long answersNotStored, long runsThroughCut,
                         List<String> notEndedDetails, String serverErrors) {
        long percentile(double p) {
            return OutageLoad.percentile(answerMillisDuringCut, p);
        }

        public String summary() {
            return "outage drill (" + mode + ", " + cut.toSeconds() + " s): answers by phase and code " + answers + '\n'
                    + "answer time during the cut: p50 " + percentile(0.5) + " ms, p99 " + percentile(0.99)
                    + " ms, max " + percentile(1.0) + " ms over " + answerMillisDuringCut.size() + " messages\n"
                    + "unanswered after 10 s: " + unansweredAfter10s + "; readiness 503 " + notReadyAfterMillis
                    + " ms after the cut, 200 again " + readyAgainAfterMillis + " ms after the restore\n"
                    + "acknowledged (agent_started): " + acknowledged + ", of them not stored: "
                    + acknowledgedButNotStored + "; server alive: " + serverAlive + '\n'
                    + "run ends by code " + runEnds + " (" + runsThroughCut + " started before the cut and ended after"
                    + " it); acknowledged runs without an end: " + runsNotEnded
                    + "; completed answers not stored: " + answersNotStored + '\n'
                    + (notEndedDetails.isEmpty() ? "" : "runs without an end on the socket (stored status, last "
                    + "stored event; last event the socket saw): " + notEndedDetails + '\n')
                    + (runsNotEnded == 0 && answersNotStored == 0 ? "" : "server errors: " + serverErrors + '\n');
        }
    }

    private record Sent(long at, String phase) {
    }

    private final Map<String, Sent> sent = new ConcurrentHashMap<>();
    private final Map<String, Long> answeredAt = new ConcurrentHashMap<>();
    private final Map<String, String> answerCode = new ConcurrentHashMap<>();
    /** Run id to how it ended: {@code completed}, {@code cancelled}, ... or the {@code agent_error} code. */
    private final Map<String, String> runEnd = new ConcurrentHashMap<>();
    /** Run id to when its {@code agent_started} arrived, and to when its last event did. */
    private final Map<String, Long> runStartedAt = new ConcurrentHashMap<>();
    private final Map<String, Long> runEndedAt = new ConcurrentHashMap<>();
    /** Run id to the type and {@code seq} of the last of its events the socket saw. */
    private final Map<String, String> runLastSeen = new ConcurrentHashMap<>();
    private volatile long cutAt = Long.MAX_VALUE;
    private final Set<String> answerIds = ConcurrentHashMap.newKeySet();
    private volatile String phase = "before";

    /**
     * {@code stepDelay}: zero, or the {@code settings.step_delay_ms} every start carries, so that the offline agent's
     * runs last and some are in flight when the database goes away.
     */
    public static Report run(boolean silent, Duration before, Duration cut, Duration after, Duration stepDelay)
            throws Exception {
        return new DatabaseOutageDrill().drill(silent, before, cut, after, stepDelay);
    }

    private Report drill(boolean silent, Duration before, Duration cut, Duration after, Duration stepDelay)
            throws Exception {
        String url = TestDatabases.freshPostgresSchema();
        URI parsed = URI.create(url.substring("jdbc:".length()));
        Path data = Files.createTempDirectory("parley-outage");
        try (TcpProxy proxy = TcpProxy.to(parsed.getHost(), parsed.getPort());
             ServerProcess server = ServerProcess.start(data, Map.of("PARLEY_DATABASE_URL",
                     "jdbc:postgresql://127.0.0.1:" + proxy.port() + parsed.getRawPath() + "?" + parsed.getRawQuery(),
                     "PARLEY_JWT_SECRET", "an-outage-drill-secret-of-at-least-32-bytes!!", "PARLEY_SIGNUP_LIMIT",
                     "1000"), SocketFuzzer.IMAGE_JVM_FLAGS);
             HttpClient http = HttpClient.newHttpClient()) {
            if (!server.awaitReady()) {
                throw new IllegalStateException("the server did not become ready:\n" + server.log());
            }
            List<SocketClient> sockets = OutageLoad.signUp(http, server, USERS, "outage");
            long end = System.nanoTime() + before.plus(cut).plus(after).toNanos();
            List<Thread> threads = OutageLoad.drive(sockets,
                    (socket, user) -> OutageLoad.sendStarts(socket, "u" + user, end, EVERY, stepDelay,
                            request -> sent.put(request, new Sent(System.nanoTime(), phase))),
                    socket -> read(socket, end));
            Thread.sleep(before.toMillis());
            cutAt = System.nanoTime();
            phase = "during";
            if (silent) {
                proxy.blackHole();
            } else {
                proxy.cut();
            }
            long notReady = awaitReadiness(server, 503, cutAt);
            Thread.sleep(Math.max(0, cut.toMillis() - (System.nanoTime() - cutAt) / 1_000_000));
            long restoredAt = System.nanoTime();
            proxy.restore();
            phase = "after";
            long ready = awaitReadiness(server, 200, restoredAt);
            for (Thread thread : threads) {
                thread.join();
            }
            Thread.sleep(2000);
            sockets.forEach(SocketClient::close);

            Map<String, Map<String, Long>> answers = new TreeMap<>();
            List<Long> duringMillis = new ArrayList<>();
            long unanswered = 0;
            List<String> acknowledged = new ArrayList<>();
            for (Map.Entry<String, Sent> entry : sent.entrySet()) {
                String code = answerCode.getOrDefault(entry.getKey(), "unanswered");
                answers.computeIfAbsent(entry.getValue().phase(), p -> new TreeMap<>()).merge(code, 1L, Long::sum);
                Long at = answeredAt.get(entry.getKey());
                long waited = at == null ? Long.MAX_VALUE : (at - entry.getValue().at()) / 1_000_000;
                if (waited > 10_000) {
                    unanswered++;
                }
                if (entry.getValue().phase().equals("during") && at != null) {
                    duringMillis.add(waited);
                }
                if (code.equals("agent_started")) {
                    acknowledged.add(entry.getKey());
                }
            }
            Map<String, Long> ends = new TreeMap<>();
            runEnd.values().forEach(code -> ends.merge(code, 1L, Long::sum));
            List<String> notEnded = runStartedAt.keySet().stream().filter(runId -> !runEnd.containsKey(runId))
                    .sorted().toList();
            long throughCut = runStartedAt.entrySet().stream().filter(started -> started.getValue() < cutAt
                    && runEndedAt.getOrDefault(started.getKey(), Long.MIN_VALUE) > cutAt).count();
            return new Report(silent ? "silent" : "refused", cut, answers, unanswered, duringMillis, notReady, ready,
                    acknowledged.size(), OutageLoad.notStored(url, acknowledged), server.process().isAlive(), ends,
                    notEnded.size(), OutageLoad.missingMessages(url, List.copyOf(answerIds)), throughCut,
                    OutageLoad.describeRuns(url, notEnded).stream().map(stored -> stored + "; "
                            + runLastSeen.getOrDefault(stored.substring(0, stored.indexOf(':')), "nothing")).toList(),
                    server.errors());
        }
    }

    private void read(SocketClient socket, long end) {
        long stop = end + TimeUnit.SECONDS.toNanos(12);
        while (System.nanoTime() < stop && !socket.isClosed()) {
            JsonNode frame;
            try {
                frame = socket.next(Duration.ofMillis(500));
            } catch (AssertionError timeout) {
                continue;
            }
            String type = frame.path("type").asText();
            JsonNode data = frame.path("data");
            String key = null;
            String code = null;
            String runId = frame.path("run_id").asText();
            if (!runId.isEmpty()) {
                runLastSeen.put(runId, type + " " + frame.path("seq").asLong());
            }
            if (type.equals("agent_started")) {
                key = data.path("user_request").asText();
                code = type;
                runStartedAt.put(runId, System.nanoTime());
            } else if (type.equals("agent_completed")) {
                runEndedAt.put(runId, System.nanoTime());
                runEnd.put(runId, data.path("status").asText());
                answerIds.add(data.path("message_id").asText());
            } else if (type.equals("agent_error")) {
                runEndedAt.put(runId, System.nanoTime());
                runEnd.put(runId, data.path("error").path("code").asText());
            } else if (type.equals("error")) {
                key = data.path("in_reply_to").asText();
                code = data.path("error").path("code").asText();
            }
            if (key != null && answeredAt.putIfAbsent(key, System.nanoTime()) == null) {
                answerCode.put(key, code);
            }
        }
    }

    private static long awaitReadiness(ServerProcess server, int status, long since) throws InterruptedException {
        while (ServerProcess.status(server.uri("/health/ready")) != status) {
            if (System.nanoTime() - since > TimeUnit.SECONDS.toNanos(60)) {
                return -1;
            }
            Thread.sleep(20);
        }
        return (System.nanoTime() - since) / 1_000_000;
    }


    /** {@code bin/fuzz --outage [refused|silent] [SECONDS [STEP_DELAY_MS]]}. */
    public static void main(String[] args) throws Exception {
        boolean silent = args.length > 0 && args[0].equals("silent");
        Duration cut = Duration.ofSeconds(args.length > 1 ? Long.parseLong(args[1]) : 30);
        Duration stepDelay = Duration.ofMillis(args.length > 2 ? Long.parseLong(args[2]) : 0);
        Report report = run(silent, Duration.ofSeconds(10), cut, Duration.ofSeconds(10), stepDelay);
        System.out.print(report.summary());
        if (report.acknowledgedButNotStored() > 0 || !report.serverAlive() || report.unansweredAfter10s() > 0
                || report.runEnds().containsKey("service_restart") || report.runsNotEnded() > 0
                || report.answersNotStored() > 0) {
            System.out.println("outage drill: FAILED");
            System.exit(1);
        }
    }
}
