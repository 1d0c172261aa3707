package dev.parley.server.scale.drills;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ApiResponse;
import dev.parley.client.ParleySocket;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * The scale-out drills: two real server processes on one PostgreSQL and one Redis, driven by the protocol's Java
 * client over real sockets on 127.0.0.1.
 * <ol>
 *   <li>{@code fanout}: a user with a socket on each instance receives every event of many concurrent runs, once
 *       each, in order, on both sockets;</li>
 *   <li>{@code kill}: one instance is killed ({@code kill -9}) while runs are in flight; its clients reconnect to the
 *       other and resume; every run ends with a last event that every follower sees, nothing is missing after
 *       dropping duplicates by {@code seq}, and every acknowledged message is stored;</li>
 *   <li>{@code redis}: Redis is stopped for a while and started again under a steady stream of runs: what clients
 *       saw, and that everything caught up;</li>
 *   <li>{@code latency}: how much later an event reaches a socket on the other instance than one on the run's own
 *       instance, with a socket per user on each instance.</li>
 * </ol>
 * Prints the figures as Markdown (and writes them to {@code report.md} in the output directory); exits 1 when an
 * exactly-once or no-loss check fails. {@code --short} is the form CI runs.
 */
public final class ScaleDrills {
    private static final Duration RUN_WAIT = Duration.ofSeconds(180);
    /** The pace at which the latency drill starts runs, spread over all its users. */
    private static final int RUNS_PER_SECOND =
            Integer.parseInt(firstSet(System.getenv("PARLEY_DRILL_RUNS_PER_SECOND"), null, "10"));

    private final DrillOptions options;
    private final List<String> report = new ArrayList<>();
    private final List<String> failures = new ArrayList<>();

    private ScaleDrills(DrillOptions options) {
        this.options = options;
    }

    public static void main(String[] args) throws Exception {
        boolean shortForm = false;
        Set<String> only = new HashSet<>();
        for (String arg : args) {
            if (arg.equals("--short")) {
                shortForm = true;
            } else if (arg.startsWith("--only=")) {
                only.addAll(List.of(arg.substring(7).split(",")));
            } else {
                System.err.println("usage: ScaleDrills [--short] [--only=fanout,kill,redis,latency]");
                System.exit(2);
            }
        }
        Path root = Path.of(System.getProperty("parley.root", ".")).toAbsolutePath().normalize();
        Path jar = root.resolve("server/target/parley-server.jar");
        if (!Files.exists(jar)) {
            System.err.println("drills: " + jar + " is missing; build the server first");
            System.exit(2);
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        String database = firstSet(System.getenv("PARLEY_DRILL_DATABASE_URL"), System.getenv("PARLEY_TEST_DATABASE_URL"),
                "jdbc:postgresql://127.0.0.1:5432/test?user=postgres");
        String redisServer = firstSet(System.getenv("PARLEY_DRILL_REDIS_SERVER"), null, "redis-server");
        int redisPort = Integer.parseInt(firstSet(System.getenv("PARLEY_DRILL_REDIS_PORT"), null, "6390"));
        Path out = root.resolve("server/target/drills")
                .resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(out);
        DrillOptions options = new DrillOptions(shortForm, jar, java, database, redisServer, redisPort, out, only);
        ScaleDrills drills = new ScaleDrills(options);
        int status = drills.runAll();
        System.exit(status);
    }

    private static String firstSet(String first, String second, String fallback) {
        if (first != null && !first.isBlank()) {
            return first.trim();
        }
        if (second != null && !second.isBlank()) {
            return second.trim();
        }
        return fallback;
    }

    private int runAll() throws Exception {
        line("# Scale-out drills (" + (options.shortForm() ? "short" : "full") + " form)");
        line("");
        line("Machine: " + Runtime.getRuntime().availableProcessors() + " CPUs; two server processes, PostgreSQL, a "
                + "drill-owned redis-server and the drill client all on 127.0.0.1. Logs: " + options.outputDir());
        line("");
        if (options.wants("fanout")) {
            guarded("fanout", this::fanoutDrill);
        }
        if (options.wants("kill")) {
            guarded("kill", this::killDrill);
        }
        if (options.wants("redis")) {
            guarded("redis", this::redisDrill);
        }
        if (options.wants("latency")) {
            guarded("latency", this::latencyDrill);
        }
        line("");
        line(failures.isEmpty() ? "**All exactly-once and no-loss checks passed.**"
                : "**FAILED:** " + String.join("; ", failures));
        Files.writeString(options.outputDir().resolve("report.md"), String.join("\n", report) + "\n");
        return failures.isEmpty() ? 0 : 1;
    }

    private interface Drill {
        void run() throws Exception;
    }

    private void guarded(String name, Drill drill) {
        long started = System.nanoTime();
        try {
            drill.run();
        } catch (Exception | AssertionError e) {
            failures.add(name + ": " + e);
            line("- " + name + " drill aborted: " + e);
            e.printStackTrace();
        }
        line("- " + name + " drill took " + (System.nanoTime() - started) / 1_000_000_000 + " s");
        line("");
    }

    private void line(String text) {
        report.add(text);
        System.out.println(text);
        System.out.flush();
    }

    private void check(String drill, boolean ok, String what) {
        if (!ok) {
            failures.add(drill + ": " + what);
            line("- **check failed**: " + what);
        }
    }

    // ---- drill 1: exactly once across instances ----

    private void fanoutDrill() throws Exception {
        int runs = options.runs();
        line("## 1. Every event of " + runs + " concurrent runs on a socket on each instance");
        try (DrillCluster cluster = DrillCluster.start(options, "fanout", Map.of("PARLEY_AGENT_STEP_DELAY", "20ms"))) {
            String token = cluster.user("fanout@drill.parley");
            Follower onA = new Follower("a", cluster.server("a").socket(token));
            Follower onB = new Follower("b", cluster.server("b").socket(token));
            awaitEstablished(onA, onB);
            long started = System.nanoTime();
            for (int i = 0; i < runs; i++) {
                Follower via = i % 2 == 0 ? onA : onB;
                via.current().send("start_agent", Json.object().put("user_request",
                        "What did we spend last month, and where could we save? (run " + i + ")"), "m-" + i);
            }
            await("both sockets see " + runs + " runs start", () -> onA.started().size() >= runs
                    && onB.started().size() >= runs, Duration.ofSeconds(60));
            Set<String> runIds = onA.started().keySet();
            await("both sockets see every run end", () -> onA.sawEnd(runIds) && onB.sawEnd(runIds), RUN_WAIT);
            long tookMillis = (System.nanoTime() - started) / 1_000_000;
            Map<String, Long> logged = loggedEvents(cluster.server("b"), token, runIds);
            for (Follower follower : List.of(onA, onB)) {
                Totals totals = totals(follower, runIds, logged);
                line("- socket on " + follower.name + ": " + totals);
                check("fanout", totals.duplicates == 0, "socket " + follower.name + " got " + totals.duplicates + " duplicates");
                check("fanout", totals.clean(), "socket " + follower.name + ": " + totals);
            }
            line("- " + runs + " runs, " + logged.values().stream().mapToLong(Long::longValue).sum()
                    + " events in the logs, all delivered in " + tookMillis + " ms");
        }
    }

    // ---- drill 2: kill -9 during runs ----

    private void killDrill() throws Exception {
        int users = options.shortForm() ? 4 : 10;
        int perUser = options.runs() / users;
        line("## 2. `kill -9` of one instance during " + users * perUser + " runs");
        try (DrillCluster cluster = DrillCluster.start(options, "kill",
                Map.of("PARLEY_AGENT_STEP_DELAY", "400ms", "PARLEY_RUN_LEASE", "5s"))) {
            List<String> tokens = new ArrayList<>();
            List<Follower> onA = new ArrayList<>();
            List<Follower> onB = new ArrayList<>();
            for (int u = 0; u < users; u++) {
                String token = cluster.user("kill-" + u + "@drill.parley");
                tokens.add(token);
                onA.add(new Follower("a" + u, cluster.server("a").socket(token)));
                onB.add(new Follower("b" + u, cluster.server("b").socket(token)));
            }
            awaitEstablished(onA.toArray(Follower[]::new));
            awaitEstablished(onB.toArray(Follower[]::new));
            Map<String, String> owner = new ConcurrentHashMap<>();
            for (int u = 0; u < users; u++) {
                for (int r = 0; r < perUser; r++) {
                    Follower via = r % 2 == 0 ? onA.get(u) : onB.get(u);
                    via.current().send("start_agent", Json.object().put("user_request",
                            "Summarize our usage costs (" + u + "/" + r + ")"), "m-" + u + "-" + r);
                }
            }
            await("every run acknowledged on both sockets of its user", () -> {
                for (int u = 0; u < users; u++) {
                    if (onA.get(u).started().size() < perUser || onB.get(u).started().size() < perUser) {
                        return false;
                    }
                }
                return true;
            }, Duration.ofSeconds(60));
            Map<String, Integer> userOf = new HashMap<>();
            Map<String, JsonNode> acknowledged = new HashMap<>();
            for (int u = 0; u < users; u++) {
                for (Map.Entry<String, JsonNode> started : onA.get(u).started().entrySet()) {
                    userOf.put(started.getKey(), u);
                    acknowledged.put(started.getKey(), started.getValue());
                }
            }
            for (int u = 0; u < users; u++) {
                for (Map.Entry<String, JsonNode> started : onA.get(u).started().entrySet()) {
                    // The request text ends with (user/run); even runs were started on a.
                    String request = started.getValue().path("data").path("user_request").asText();
                    int r = Integer.parseInt(request.substring(request.lastIndexOf('/') + 1, request.length() - 1));
                    owner.put(started.getKey(), r % 2 == 0 ? "a" : "b");
                }
            }
            long inFlight = onA.stream().flatMap(f -> f.runs().values().stream()).filter(v -> !v.ended()).count();
            long killedAt = System.nanoTime();
            cluster.server("a").kill();
            line("- killed instance a with " + inFlight + " of " + userOf.size() + " runs still in flight ("
                    + owner.values().stream().filter("a"::equals).count() + " runs belonged to a)");
            // Clients of a reconnect to b and resume every run they follow from the last seq they hold.
            List<Long> reconnectMillis = new ArrayList<>();
            for (int u = 0; u < users; u++) {
                Follower follower = onA.get(u);
                awaitClosed(follower.current());
                long reconnectStarted = System.nanoTime();
                ParleySocket socket = connectWithRetry(cluster.server("b"), tokens.get(u));
                reconnectMillis.add((System.nanoTime() - reconnectStarted) / 1_000_000);
                follower.reconnected(socket);
                for (Follower.RunView view : follower.runs().values()) {
                    socket.send("resume", Json.object().put("run_id", view.runId()).put("last_seq", contiguous(follower, view.runId())), null);
                }
            }
            Set<String> runIds = userOf.keySet();
            try {
                await("every follower sees every run of its user end", () -> {
                    for (int u = 0; u < users; u++) {
                        Set<String> mine = onB.get(u).started().keySet();
                        if (!onA.get(u).sawEnd(mine) || !onB.get(u).sawEnd(mine)) {
                            return false;
                        }
                    }
                    return true;
                }, RUN_WAIT);
            } catch (AssertionError e) {
                for (int u = 0; u < users; u++) {
                    Set<String> mine = onB.get(u).started().keySet();
                    for (Follower follower : List.of(onA.get(u), onB.get(u))) {
                        Map<String, Follower.RunView> views = follower.runs();
                        for (String runId : mine) {
                            Follower.RunView view = views.get(runId);
                            if (view == null || !view.ended()) {
                                ApiResponse stored = cluster.server("b").http().runEvents(tokens.get(u), runId, 0);
                                line("- not ended on " + follower.name + ": run " + runId + " of " + owner.get(runId)
                                        + ", seen " + (view == null ? "nothing" : view.lastSeq() + " gapless=" + view.gapless())
                                        + "; stored: " + stored.json().path("events").size() + " events, complete="
                                        + stored.json().path("complete") + ", status=" + stored.json().path("status")
                                        + "; socket closed: " + follower.current().isClosed() + " frames: "
                                        + follower.current().types().stream().filter(t -> !t.startsWith("agent_")
                                                && !t.startsWith("tool_") && !t.equals("partial_result")).toList());
                            }
                        }
                    }
                }
                throw e;
            }
            long endedMillis = (System.nanoTime() - killedAt) / 1_000_000;
            Map<String, Long> logged = new HashMap<>();
            for (int u = 0; u < users; u++) {
                logged.putAll(loggedEvents(cluster.server("b"), tokens.get(u), onB.get(u).started().keySet()));
            }
            Totals reconnected = new Totals();
            Totals stayed = new Totals();
            int abandonedEnded = 0;
            int abandonedBadEnd = 0;
            for (int u = 0; u < users; u++) {
                Set<String> mine = onB.get(u).started().keySet();
                reconnected.add(totals(onA.get(u), mine, logged));
                stayed.add(totals(onB.get(u), mine, logged));
                for (String runId : mine) {
                    if (!"a".equals(owner.get(runId))) {
                        continue;
                    }
                    Follower.RunView view = onB.get(u).runs().get(runId);
                    boolean retryableError = view != null && EventType.AGENT_ERROR.equals(view.terminalType())
                            && view.terminal().path("data").path("retryable").asBoolean(false);
                    if (retryableError) {
                        abandonedEnded++;
                    } else if (view != null && !EventType.AGENT_COMPLETED.equals(view.terminalType())) {
                        abandonedBadEnd++;
                    }
                }
            }
            int lost = 0;
            for (int u = 0; u < users; u++) {
                lost += missingMessages(cluster.server("b"), tokens.get(u), onB.get(u).started());
            }
            line("- clients of a reconnected to b in " + summary(reconnectMillis) + " ms and resumed");
            line("- every run ended for every follower " + endedMillis + " ms after the kill; runs of a ended by b "
                    + "with a retryable agent_error: " + abandonedEnded + " (the rest of a's runs had completed before)");
            line("- followers that reconnected: " + reconnected);
            line("- followers on b throughout: " + stayed);
            line("- acknowledged user messages: " + acknowledged.size() + ", missing from the database: " + lost);
            check("kill", reconnected.clean() && stayed.clean(), "every follower sees every run end without gaps");
            check("kill", abandonedBadEnd == 0, abandonedBadEnd + " runs of the killed instance ended otherwise");
            check("kill", lost == 0, lost + " acknowledged messages are not stored");
            check("kill", logged.size() == runIds.size(), "every run has a log");
        }
    }

    /**
     * Whether a run belongs to instance a: the socket on the run's own instance gets {@code agent_started} first
     * (delivered there directly), the other one over Redis.
     */
    private static boolean ownInstanceIsA(Follower onA, Follower onB, String runId) {
        return onA.arrivals(runId).getOrDefault(1L, Long.MAX_VALUE) <= onB.arrivals(runId).getOrDefault(1L, Long.MAX_VALUE);
    }

    private static long contiguous(Follower follower, String runId) {
        Set<Long> seqs = new HashSet<>(follower.arrivals(runId).keySet());
        long last = 0;
        while (seqs.contains(last + 1)) {
            last++;
        }
        return last;
    }

    // ---- drill 3: Redis stopped and started again ----

    private void redisDrill() throws Exception {
        int users = options.shortForm() ? 6 : 20;
        int outage = options.outageSeconds();
        line("## 3. Redis stopped for " + outage + " s and started again, under a steady stream of runs");
        try (DrillCluster cluster = DrillCluster.start(options, "redis", Map.of("PARLEY_AGENT_STEP_DELAY", "300ms"))) {
            List<String> tokens = new ArrayList<>();
            List<Follower> onA = new ArrayList<>();
            List<Follower> onB = new ArrayList<>();
            for (int u = 0; u < users; u++) {
                String token = cluster.user("redis-" + u + "@drill.parley");
                tokens.add(token);
                onA.add(new Follower("a" + u, cluster.server("a").socket(token)));
                onB.add(new Follower("b" + u, cluster.server("b").socket(token)));
            }
            awaitEstablished(onA.toArray(Follower[]::new));
            awaitEstablished(onB.toArray(Follower[]::new));
            Map<String, Integer> userOfRun = new ConcurrentHashMap<>();
            Map<String, Boolean> startedOnA = new ConcurrentHashMap<>();
            List<String> readiness = new CopyOnWriteArrayList<>();
            AtomicBoolean running = new AtomicBoolean(true);
            ExecutorService background = Executors.newVirtualThreadPerTaskExecutor();
            long epoch = System.nanoTime();
            List<long[]> phases = new CopyOnWriteArrayList<>(); // [start ms, end ms] of the outage
            Map<Integer, Long> sentAt = new ConcurrentHashMap<>();
            Future<?> starter = background.submit(() -> {
                int i = 0;
                while (running.get()) {
                    int u = i % users;
                    boolean viaA = i % 2 == 0;
                    sentAt.put(i, System.nanoTime());
                    (viaA ? onA : onB).get(u).current().send("start_agent", Json.object()
                            .put("user_request", "Where can we cut costs? (" + i + ")"), "r-" + i);
                    i++;
                    sleep(Duration.ofMillis(500));
                }
                return null;
            });
            Future<?> prober = background.submit(() -> {
                Map<String, String> last = new HashMap<>();
                while (running.get()) {
                    for (String name : List.of("a", "b")) {
                        String state;
                        try {
                            ApiResponse ready = cluster.server(name).http().ready();
                            state = ready.status() + " " + ready.json().path("status").asText() + " fanout="
                                    + ready.json().path("checks").path("fanout").asText();
                        } catch (RuntimeException e) {
                            state = "unreachable";
                        }
                        if (!state.equals(last.get(name))) {
                            last.put(name, state);
                            readiness.add(String.format(Locale.ROOT, "t=%.1fs %s: %s",
                                    (System.nanoTime() - epoch) / 1e9, name, state));
                        }
                    }
                    sleep(Duration.ofMillis(250));
                }
                return null;
            });
            sleep(Duration.ofSeconds(5));
            long outageStart = (System.nanoTime() - epoch) / 1_000_000;
            cluster.redis.stopProcess();
            sleep(Duration.ofSeconds(outage));
            cluster.redis.startProcess();
            long outageEnd = (System.nanoTime() - epoch) / 1_000_000;
            phases.add(new long[] {outageStart, outageEnd});
            sleep(Duration.ofSeconds(8));
            running.set(false);
            starter.get();
            prober.get();
            background.shutdown();
            for (int u = 0; u < users; u++) {
                for (String runId : onA.get(u).started().keySet()) {
                    userOfRun.put(runId, u);
                }
                for (String runId : onB.get(u).started().keySet()) {
                    userOfRun.put(runId, u);
                }
            }
            await("every follower sees every run of its user end", () -> {
                for (int u = 0; u < users; u++) {
                    Set<String> mine = new HashSet<>(onA.get(u).started().keySet());
                    mine.addAll(onB.get(u).started().keySet());
                    if (!onA.get(u).sawEnd(mine) || !onB.get(u).sawEnd(mine)) {
                        return false;
                    }
                }
                return true;
            }, RUN_WAIT);
            Map<String, Long> logged = new HashMap<>();
            for (int u = 0; u < users; u++) {
                Set<String> mine = new HashSet<>(onA.get(u).started().keySet());
                mine.addAll(onB.get(u).started().keySet());
                logged.putAll(loggedEvents(cluster.server("a"), tokens.get(u), mine));
            }
            Totals totalsA = new Totals();
            Totals totalsB = new Totals();
            List<Long> delaysDuring = new ArrayList<>();
            List<Long> delaysOutside = new ArrayList<>();
            for (int u = 0; u < users; u++) {
                Set<String> mine = new HashSet<>(onA.get(u).started().keySet());
                mine.addAll(onB.get(u).started().keySet());
                totalsA.add(totals(onA.get(u), mine, logged));
                totalsB.add(totals(onB.get(u), mine, logged));
                for (String runId : mine) {
                    Map<Long, Long> a = onA.get(u).arrivals(runId);
                    Map<Long, Long> b = onB.get(u).arrivals(runId);
                    boolean ownA = ownInstanceIsA(onA.get(u), onB.get(u), runId);
                    Map<Long, Long> own = ownA ? a : b;
                    Map<Long, Long> other = ownA ? b : a;
                    for (Map.Entry<Long, Long> event : own.entrySet()) {
                        Long there = other.get(event.getKey());
                        if (there == null) {
                            continue;
                        }
                        long at = (event.getValue() - epoch) / 1_000_000;
                        long delay = Math.max(0, (there - event.getValue()) / 1_000_000);
                        if (at >= outageStart && at <= outageEnd) {
                            delaysDuring.add(delay);
                        } else {
                            delaysOutside.add(delay);
                        }
                    }
                }
            }
            long closed = onA.stream().filter(f -> f.current().isClosed()).count()
                    + onB.stream().filter(f -> f.current().isClosed()).count();
            Map<String, Map<String, Integer>> answers = new java.util.TreeMap<>();
            List<Long> answerMillisDuring = new ArrayList<>();
            for (Map.Entry<Integer, Long> sent : sentAt.entrySet()) {
                int i = sent.getKey();
                ParleySocket socket = (i % 2 == 0 ? onA : onB).get(i % users).current();
                long at = (sent.getValue() - epoch) / 1_000_000;
                String phase = at < outageStart ? "before" : at <= outageEnd ? "during" : "after";
                String code = "unanswered";
                for (ParleySocket.Received frame : socket.frames()) {
                    JsonNode data = frame.raw().path("data");
                    boolean started = EventType.AGENT_STARTED.equals(frame.type())
                            && data.path("user_request").asText().endsWith("(" + i + ")");
                    boolean refused = EventType.ERROR.equals(frame.type())
                            && data.path("in_reply_to").asText().equals("r-" + i);
                    if (started || refused) {
                        code = started ? "agent_started" : data.path("error").path("code").asText();
                        if (phase.equals("during")) {
                            answerMillisDuring.add((frame.arrivedNanos() - sent.getValue()) / 1_000_000);
                        }
                        break;
                    }
                }
                answers.computeIfAbsent(phase, p -> new java.util.TreeMap<>()).merge(code, 1, Integer::sum);
            }
            line("- outage from t=" + outageStart / 1000.0 + " s to t=" + outageEnd / 1000.0 + " s; "
                    + userOfRun.size() + " runs of " + users + " users, started every 0.5 s alternately on a and b");
            line("- start_agent answers by phase sent: " + answers + "; answer time (ms) of those sent during the outage: "
                    + summary(answerMillisDuring));
            line("- readiness seen: " + String.join("; ", readiness));
            line("- sockets closed during the drill: " + closed);
            line("- events of the other instance's runs, delay after the run's own instance (ms): during the outage "
                    + summary(delaysDuring) + "; outside it " + summary(delaysOutside));
            line("- followers on a: " + totalsA);
            line("- followers on b: " + totalsB);
            check("redis", totalsA.clean() && totalsB.clean(), "every follower sees every run end without gaps");
            check("redis", totalsA.duplicates == 0 && totalsB.duplicates == 0, "no event delivered twice");
            check("redis", closed == 0, closed + " sockets closed");
            check("redis", answers.values().stream().noneMatch(codes -> codes.containsKey("unanswered")),
                    "every start_agent answered");
        }
    }

    // ---- drill 4: cross-instance latency at many users ----

    private void latencyDrill() throws Exception {
        int users = options.latencyUsers();
        line("## 4. Added latency of cross-instance delivery, " + users + " users with a socket on each instance");
        try (DrillCluster cluster = DrillCluster.start(options, "latency", Map.of("PARLEY_AGENT_STEP_DELAY", "100ms"))) {
            List<String> tokens = new ArrayList<>();
            List<Follower> onA = new ArrayList<>();
            List<Follower> onB = new ArrayList<>();
            ExecutorService connecting = Executors.newFixedThreadPool(16);
            List<Future<String>> logins = new ArrayList<>();
            for (int u = 0; u < users; u++) {
                int n = u;
                logins.add(connecting.submit(() -> cluster.user("latency-" + n + "@drill.parley")));
            }
            for (Future<String> login : logins) {
                tokens.add(login.get());
            }
            List<Future<Follower[]>> sockets = new ArrayList<>();
            for (int u = 0; u < users; u++) {
                int n = u;
                sockets.add(connecting.submit(() -> new Follower[] {
                        new Follower("a" + n, cluster.server("a").socket(tokens.get(n))),
                        new Follower("b" + n, cluster.server("b").socket(tokens.get(n)))}));
            }
            for (Future<Follower[]> pair : sockets) {
                Follower[] both = pair.get();
                onA.add(both[0]);
                onB.add(both[1]);
            }
            // Every tenth user also has a second socket on the run's own instance: how far apart two sockets of
            // the same instance get the same event is the floor that the bus's added latency is measured against.
            Map<Integer, Follower> twins = new HashMap<>();
            for (int u = 0; u < users; u += 10) {
                DrillCluster.Server own = cluster.server(u % 2 == 0 ? "a" : "b");
                twins.put(u, new Follower("twin" + u, own.socket(tokens.get(u))));
            }
            connecting.shutdown();
            awaitEstablished(onA.toArray(Follower[]::new));
            awaitEstablished(onB.toArray(Follower[]::new));
            awaitEstablished(twins.values().toArray(Follower[]::new));
            line("- " + (2 * users + twins.size()) + " sockets open");
            Map<String, Long> sentAt = new ConcurrentHashMap<>();
            long started = System.nanoTime();
            // Runs start at a steady pace, so that what is measured is the bus, not two CPUs saturated by agents.
            long every = 1_000_000_000L / RUNS_PER_SECOND;
            for (int u = 0; u < users; u++) {
                Follower via = u % 2 == 0 ? onA.get(u) : onB.get(u);
                long due = started + u * every;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    sleep(Duration.ofNanos(wait));
                }
                sentAt.put(via.name, System.nanoTime());
                via.current().send("start_agent", Json.object().put("user_request", "What did we spend on compute?"),
                        "l-" + u);
            }
            await("every user's run ends on both sockets", () -> {
                for (int u = 0; u < users; u++) {
                    Set<String> mine = onA.get(u).started().keySet();
                    if (mine.isEmpty() || !onA.get(u).sawEnd(mine) || !onB.get(u).sawEnd(mine)) {
                        return false;
                    }
                }
                return true;
            }, RUN_WAIT);
            long tookMillis = (System.nanoTime() - started) / 1_000_000;
            List<Long> added = new ArrayList<>();
            List<Long> sameInstance = new ArrayList<>();
            List<Long> ownStart = new ArrayList<>();
            List<Long> otherStart = new ArrayList<>();
            Totals totals = new Totals();
            for (int u = 0; u < users; u++) {
                boolean ownA = u % 2 == 0;
                Follower own = ownA ? onA.get(u) : onB.get(u);
                Follower other = ownA ? onB.get(u) : onA.get(u);
                Set<String> mine = own.started().keySet();
                totals.add(totals(own, mine, null));
                totals.add(totals(other, mine, null));
                for (String runId : mine) {
                    Map<Long, Long> here = own.arrivals(runId);
                    Map<Long, Long> there = other.arrivals(runId);
                    for (Map.Entry<Long, Long> event : here.entrySet()) {
                        Long arrived = there.get(event.getKey());
                        if (arrived != null) {
                            added.add((arrived - event.getValue()) / 1_000);
                        }
                    }
                    Follower twin = twins.get(u);
                    if (twin != null) {
                        Map<Long, Long> beside = twin.arrivals(runId);
                        for (Map.Entry<Long, Long> event : here.entrySet()) {
                            Long arrived = beside.get(event.getKey());
                            if (arrived != null) {
                                sameInstance.add(Math.abs(arrived - event.getValue()) / 1_000);
                            }
                        }
                    }
                    Long sent = sentAt.get(own.name);
                    if (sent != null && here.containsKey(1L) && there.containsKey(1L)) {
                        ownStart.add((here.get(1L) - sent) / 1_000);
                        otherStart.add((there.get(1L) - sent) / 1_000);
                    }
                }
            }
            Collections.sort(added);
            line("- " + users + " runs started at " + RUNS_PER_SECOND + " per second, " + added.size()
                    + " events compared, all ended in " + tookMillis + " ms");
            line("- added latency of the other instance's socket over the run's own (µs): "
                    + summaryMicros(added) + " — goal p99 ≤ 2000 µs: "
                    + (percentile(added, 99) <= 2000 ? "met" : "NOT met"));
            line("- for comparison, two sockets of the same user on the same instance, how far apart they get the same "
                    + "event (µs): " + summaryMicros(sameInstance));
            long within = added.stream().filter(micros -> micros <= 2000).count();
            line(String.format(Locale.ROOT, "- events on the other instance within 2 ms of the run's own: %.1f %%",
                    100.0 * within / Math.max(1, added.size())));
            line("- start_agent to agent_started (µs): own instance " + summaryMicros(ownStart) + "; other instance "
                    + summaryMicros(otherStart));
            line("- all sockets: " + totals);
            check("latency", totals.clean() && totals.duplicates == 0, "exactly once on every socket");
        }
    }

    // ---- shared checks ----

    /** Per follower, over a set of runs: how they arrived, and whether they match the stored logs. */
    private static final class Totals {
        int runs;
        int ended;
        int gapless;
        long received;
        long duplicates;
        long outOfOrder;
        long mismatched;
        final List<String> gaps = new ArrayList<>();

        void add(Totals other) {
            gaps.addAll(other.gaps);
            runs += other.runs;
            ended += other.ended;
            gapless += other.gapless;
            received += other.received;
            duplicates += other.duplicates;
            outOfOrder += other.outOfOrder;
            mismatched += other.mismatched;
        }

        boolean clean() {
            return ended == runs && gapless == runs && mismatched == 0;
        }

        @Override
        public String toString() {
            return runs + " runs, " + ended + " ended, " + gapless + " gapless after seq dedupe, " + received
                    + " events received, " + duplicates + " duplicates (dropped by seq), " + outOfOrder
                    + " out of order, " + mismatched + " runs differing from the stored log"
                    + (gaps.isEmpty() ? "" : "; gaps: " + String.join("; ", gaps));
        }
    }

    private static Totals totals(Follower follower, Set<String> runIds, Map<String, Long> logged) {
        Totals totals = new Totals();
        Map<String, Follower.RunView> views = follower.runs();
        for (String runId : runIds) {
            totals.runs++;
            Follower.RunView view = views.get(runId);
            if (view == null) {
                continue;
            }
            totals.received += view.received();
            totals.duplicates += view.duplicates();
            totals.outOfOrder += view.outOfOrder();
            if (view.ended()) {
                totals.ended++;
            }
            if (view.gapless()) {
                totals.gapless++;
            } else {
                Set<Long> arrived = follower.arrivals(runId).keySet();
                List<Long> missing = new ArrayList<>();
                for (long seq = 1; seq <= view.lastSeq(); seq++) {
                    if (!arrived.contains(seq)) {
                        missing.add(seq);
                    }
                }
                totals.gaps.add("run " + runId + " on " + follower.name + " missing seq " + missing + " of "
                        + view.lastSeq());
            }
            if (logged != null && logged.containsKey(runId) && logged.get(runId) != view.lastSeq()) {
                totals.mismatched++;
            }
        }
        return totals;
    }

    /** How many events each run's stored log holds, read over HTTP. */
    private static Map<String, Long> loggedEvents(DrillCluster.Server server, String token, Set<String> runIds) {
        Map<String, Long> logged = new LinkedHashMap<>();
        for (String runId : runIds) {
            ApiResponse response = server.http().runEvents(token, runId, 0);
            if (response.ok()) {
                logged.put(runId, (long) response.json().path("events").size());
            }
        }
        return logged;
    }

    /** Acknowledged user messages (agent_started's message_id) that are not in their thread. */
    private static int missingMessages(DrillCluster.Server server, String token, Map<String, JsonNode> started) {
        Map<String, Set<String>> byThread = new HashMap<>();
        for (JsonNode event : started.values()) {
            byThread.computeIfAbsent(event.path("thread_id").asText(), t -> new HashSet<>())
                    .add(event.path("data").path("message_id").asText());
        }
        int missing = 0;
        for (Map.Entry<String, Set<String>> thread : byThread.entrySet()) {
            ApiResponse messages = server.http().get("/api/threads/" + thread.getKey() + "/messages?limit=100", token);
            Set<String> stored = new HashSet<>();
            for (JsonNode message : messages.json().path("messages")) {
                if ("user".equals(message.path("role").asText())) {
                    stored.add(message.path("id").asText());
                }
            }
            for (String id : thread.getValue()) {
                if (!stored.contains(id)) {
                    missing++;
                }
            }
        }
        return missing;
    }

    private static void awaitEstablished(Follower... followers) throws Exception {
        for (Follower follower : followers) {
            follower.current().awaitType(EventType.CONNECTION_ESTABLISHED, Duration.ofSeconds(30));
        }
    }

    private static void awaitClosed(ParleySocket socket) throws Exception {
        socket.awaitClose(Duration.ofSeconds(30));
    }

    private static ParleySocket connectWithRetry(DrillCluster.Server server, String token) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                ParleySocket socket = server.socket(token);
                socket.awaitType(EventType.CONNECTION_ESTABLISHED, Duration.ofSeconds(10));
                return socket;
            } catch (ParleySocket.HandshakeRefused | RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                sleep(Duration.ofMillis(200));
            }
        }
    }

    private static void await(String what, BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what);
            }
            Thread.sleep(100);
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static long percentile(List<Long> sorted, int p) {
        if (sorted.isEmpty()) {
            return 0;
        }
        int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }

    private static String summary(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        if (sorted.isEmpty()) {
            return "n=0";
        }
        return "n=" + sorted.size() + " p50=" + percentile(sorted, 50) + " p99=" + percentile(sorted, 99) + " max="
                + sorted.getLast();
    }

    private static String summaryMicros(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        if (sorted.isEmpty()) {
            return "n=0";
        }
        return "n=" + sorted.size() + " p50=" + percentile(sorted, 50) + " p95=" + percentile(sorted, 95) + " p99="
                + percentile(sorted, 99) + " max=" + sorted.getLast();
    }
}
