package dev.parley.server.fuzz;

import dev.parley.protocol.Json;
import dev.parley.server.testing.RawSocket;
import dev.parley.server.testing.ServerProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Socket churn and request floods against a server process, with the figures that show whether anything grows: RSS,
 * file descriptors, /metrics series and open sockets before and after.
 *
 * <p>Churn: {@code connects} WebSocket connections from 16 threads, each authenticated, answered with
 * {@code connection_established}, then ended one of three ways in turn: a close handshake, a TCP close without a close
 * frame, or a reset in the middle of a frame. Flood: sign-ups past {@code PARLEY_SIGNUP_LIMIT}, failed logins from
 * forged {@code X-Forwarded-For} addresses past the per-address limit, and requests with made-up methods.
 *
 * <p>{@code bin/fuzz --churn N} runs it at full size; ChurnAndFloodTest runs a short form in the build.
 */
public final class ChurnAndFlood {
    /** The server settings of a run: the default sign-up and login limits, so that the floods meet them. */
    static final Map<String, String> SERVER_ENV = Map.of("PARLEY_WS_MAX_SOCKETS_PER_USER", "10000",
            "PARLEY_ACCESS_TOKEN_TTL", "1d");

    public record Report(long connects, long seconds, Map<String, Long> outcomes, long violations,
                         List<String> examples, long rssBeforeKb, long rssAfterKb, long fdsBefore, long fdsAfter,
                         long seriesBefore, long seriesAfter, long openSocketsAfter, Map<Integer, Long> signUps,
                         Map<Integer, Long> logins, Map<Integer, Long> oddMethods, long seriesAddedByMethods) {
        public String summary() {
            StringBuilder text = new StringBuilder()
                    .append("churn: ").append(connects).append(" connects in ").append(seconds).append(" s: ")
                    .append(outcomes).append('\n')
                    .append("flood: 60 sign-ups from one address by status ").append(signUps)
                    .append("; 40 failed logins on 40 accounts, each with its own forged X-Forwarded-For, by status ")
                    .append(logins).append("; 200 requests with made-up methods by status ").append(oddMethods)
                    .append(", adding ").append(seriesAddedByMethods).append(" /metrics series\n")
                    .append("server RSS ").append(rssBeforeKb / 1024).append(" MB -> ").append(rssAfterKb / 1024)
                    .append(" MB, file descriptors ").append(fdsBefore).append(" -> ").append(fdsAfter)
                    .append(", /metrics series ").append(seriesBefore).append(" -> ").append(seriesAfter)
                    .append(", open sockets after ").append(openSocketsAfter).append('\n')
                    .append("violations: ").append(violations).append('\n');
            examples.forEach(example -> text.append("  ").append(example).append('\n'));
            return text.toString();
        }
    }

    private final ServerProcess server;
    private final Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
    private final AtomicLong violations = new AtomicLong();
    private final List<String> examples = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();

    private ChurnAndFlood(ServerProcess server) {
        this.server = server;
    }

    public static Report run(ServerProcess server, long connects) throws InterruptedException {
        return new ChurnAndFlood(server).run(connects);
    }

    private Report run(long connects) throws InterruptedException {
        String token = Json.parse(post("/auth/register", "{\"email\":\"churn-" + UUID.randomUUID()
                + "@example.org\",\"password\":\"correct horse battery\"}", null).body()).path("access_token").asText();
        long pid = server.process().pid();
        long seriesBefore = series();
        long rssBefore = SocketFuzzer.rssKb(pid);
        long fdsBefore = SocketFuzzer.fds(pid);
        long started = System.nanoTime();
        int port = server.uri("/").getPort();
        AtomicLong next = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (long i; (i = next.getAndIncrement()) < connects; ) {
                    churnOnce(port, token, i);
                }
            }));
        }
        for (Thread thread : threads) {
            thread.join();
        }
        long seconds = Math.max(1, (System.nanoTime() - started) / 1_000_000_000L);

        Map<Integer, Long> signUps = new TreeMap<>();
        for (int i = 0; i < 60; i++) {
            signUps.merge(post("/auth/register", "{\"email\":\"flood-" + UUID.randomUUID()
                    + "@example.org\",\"password\":\"correct horse battery\"}", null).statusCode(), 1L, Long::sum);
        }
        Map<Integer, Long> logins = new TreeMap<>();
        for (int i = 0; i < 40; i++) {
            logins.merge(post("/auth/login", "{\"email\":\"spray-" + i + "@example.org\",\"password\":\"guess\"}",
                    "203.0.113." + i).statusCode(), 1L, Long::sum);
        }
        long seriesBeforeMethods = series();
        Map<Integer, Long> oddMethods = new TreeMap<>();
        for (int i = 0; i < 200; i++) {
            String method = "M" + UUID.randomUUID().toString().replace("-", "").substring(0, 10).toUpperCase();
            oddMethods.merge(send(HttpRequest.newBuilder(server.uri("/health"))
                    .method(method, HttpRequest.BodyPublishers.noBody()).build()).statusCode(), 1L, Long::sum);
        }
        long seriesAddedByMethods = series() - seriesBeforeMethods;
        // Sockets are released a moment after their connection ends.
        long openSockets = -1;
        for (int i = 0; i < 50 && openSockets != 0; i++) {
            Thread.sleep(100);
            openSockets = openSockets();
        }
        Map<String, Long> counts = new TreeMap<>();
        outcomes.forEach((key, value) -> counts.put(key, value.sum()));
        return new Report(connects, seconds, counts, violations.get(), List.copyOf(examples), rssBefore,
                SocketFuzzer.rssKb(pid), fdsBefore, SocketFuzzer.fds(pid), seriesBefore, series(), openSockets,
                signUps, logins, oddMethods, seriesAddedByMethods);
    }

    private void churnOnce(int port, String token, long i) {
        RawSocket socket = null;
        try {
            socket = RawSocket.upgrade(port, "/ws", Map.of("Authorization", "Bearer " + token));
            if (socket.handshake().status() != 101) {
                count("handshake " + socket.handshake().status());
                violation("connect " + i + ": handshake " + socket.handshake().status() + " "
                        + socket.handshake().body());
                return;
            }
            String first = socket.readFrame().text();
            if (!first.contains("connection_established")) {
                violation("connect " + i + ": first frame " + first);
            }
            switch ((int) (i % 3)) {
                case 0 -> {
                    socket.sendFrame(RawSocket.CLOSE, true, SocketFuzzer.closePayload(1000, new byte[0]));
                    int code = socket.awaitClose().closeCode();
                    count("close handshake, answered " + code);
                    if (code != 1000) {
                        violation("connect " + i + ": close answered " + code);
                    }
                }
                case 1 -> count("TCP close without a close frame");
                default -> {
                    // Half a frame, then gone: the server must let the connection go all the same.
                    socket.output().write(SocketFuzzer.frame(0x1, true, 0, true, new byte[500]), 0, 100);
                    socket.output().flush();
                    count("gone in the middle of a frame");
                }
            }
        } catch (IOException | UncheckedIOException e) {
            count("error " + e.getClass().getSimpleName());
            violation("connect " + i + ": " + e);
        } finally {
            if (socket != null) {
                socket.close();
            }
        }
    }

    private void count(String outcome) {
        outcomes.computeIfAbsent(outcome, k -> new LongAdder()).increment();
    }

    private void violation(String what) {
        violations.incrementAndGet();
        if (examples.size() < 20) {
            examples.add(what);
        }
    }

    private long series() {
        return send(HttpRequest.newBuilder(server.uri("/metrics")).build()).body().lines()
                .filter(line -> !line.isBlank() && !line.startsWith("#")).count();
    }

    private long openSockets() {
        return send(HttpRequest.newBuilder(server.uri("/metrics")).build()).body().lines()
                .filter(line -> line.startsWith("parley_ws_open_sockets"))
                .mapToLong(line -> (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
                .findFirst().orElse(-1);
    }

    private HttpResponse<String> post(String path, String body, String forwardedFor) {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.uri(path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (forwardedFor != null) {
            request.header("X-Forwarded-For", forwardedFor);
        }
        return send(request.build());
    }

    private HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** {@code bin/fuzz --churn N}. */
    public static void main(String[] args) throws Exception {
        long connects = Long.parseLong(args[0]);
        Path data = Files.createTempDirectory("parley-churn");
        try (ServerProcess server = ServerProcess.start(data, SERVER_ENV, SocketFuzzer.IMAGE_JVM_FLAGS)) {
            if (!server.awaitReady()) {
                throw new IllegalStateException("the server did not become ready:\n" + server.log());
            }
            Report report = run(server, connects);
            System.out.print(report.summary());
            if (report.violations() > 0 || !server.process().isAlive()) {
                System.out.println("churn: FAILED (server alive: " + server.process().isAlive() + ")");
                System.exit(1);
            }
        }
    }
}
