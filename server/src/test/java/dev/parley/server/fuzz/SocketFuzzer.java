package dev.parley.server.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.RawSocket;
import dev.parley.server.testing.ServerProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * Seeded, reproducible fuzzing of the socket: many sockets each send mutated valid messages (JSON structure, types,
 * sizes, nesting, numbers, strings that break naive code) and mutated frames (opcodes, reserved bits, masking,
 * fragmentation, lengths, close payloads), and every answer is checked.
 *
 * <p>A frame the contract answers with a coded {@code error} must leave the socket open: after each one a ping with a
 * unique timestamp must come back as its pong, and nothing on the way may be an {@code internal} error or a close.
 * A frame the RFC answers with a close must get exactly that close code. A connection that ends without a close
 * frame is a violation, except for the two frames Helidon 4.5 drops that way (a control frame over 125 bytes, a
 * close frame with a one-byte payload; see SocketFramesTest). Socket {@code k}'s frames come from
 * {@code new SplittableRandom(seed).split()} taken {@code k + 1} times, so a seed replays the same frames.
 *
 * <p>Run it as {@code bin/fuzz [--frames N] [--seed S] [--sockets K]}; SocketFuzzTest runs a short form in CI.
 */
public final class SocketFuzzer {
    /** The server's frame limit in a fuzz run: frames over it must close with 1009. */
    static final int MAX_FRAME_BYTES = 65_536;
    static final Map<String, String> SERVER_ENV = Map.of(
            "PARLEY_WS_RATE_LIMIT", "100000",
            "PARLEY_WS_RATE_BURST", "100000",
            "PARLEY_WS_RATE_WINDOW", "1s",
            "PARLEY_WS_MAX_SOCKETS_PER_USER", "10000",
            "PARLEY_ACCESS_TOKEN_TTL", "1d",
            "PARLEY_WS_MAX_FRAME_BYTES", Integer.toString(MAX_FRAME_BYTES),
            "PARLEY_SIGNUP_LIMIT", "1000000");
    private static final int KEPT_VIOLATIONS = 50;
    private static final String[] NAUGHTY = {
        "", " ", "null", "undefined", "NaN", "-0", "0x1F", "1e309", "\u0000", "\u001f", "\u007f", "\u00ad",
        "\u200b", "\u202e", "\u2028", "\ufeff", "\uffff", "\ud83d\ude00", "\ud835\udd7f\ud835\udd8d", "\u0e01\u0e34",
        "' OR '1'='1' --", "\"; DROP TABLE users; --", "<script>alert(1)</script>", "${jndi:ldap://x/a}",
        "%s%s%s%n", "../../../../etc/passwd", "\\", "\\u0000", "{{7*7}}", "$(reboot)", "`id`", "ＡＢＣ",
        "\r\n\r\nHTTP/1.1 200 OK", "a".repeat(4096), "\u0301".repeat(200)};
    private static final String[] TYPES = {"start_agent", "execute_agent", "user_message", "chat_message",
        "message", "stop_agent", "resume", "get_thread_history", "auth_refresh", "ping", "heartbeat",
        "heartbeat_ack", "pong"};

    public record Options(long seed, long frames, int sockets, int users) {
    }

    /** What one run saw. {@code violations} counts every broken expectation; {@code examples} keeps the first few. */
    public record Report(long frames, long seconds, long reconnects, Map<String, Long> outcomes,
                         Map<String, Long> closes, long violations, List<String> examples,
                         long rssBeforeKb, long rssHalfwayKb, long rssAfterKb, long fdsBefore, long fdsAfter,
                         long seriesBefore, long seriesAfter) {
        public String summary() {
            StringBuilder text = new StringBuilder()
                    .append("frames ").append(frames).append(" in ").append(seconds).append(" s, reconnects ")
                    .append(reconnects).append('\n')
                    .append("closes by code: ").append(closes).append('\n')
                    .append("answers: ").append(outcomes).append('\n')
                    .append("server RSS ").append(rssBeforeKb / 1024).append(" MB -> ").append(rssHalfwayKb / 1024)
                    .append(" MB halfway -> ").append(rssAfterKb / 1024)
                    .append(" MB, file descriptors ").append(fdsBefore).append(" -> ").append(fdsAfter)
                    .append(", /metrics series ").append(seriesBefore).append(" -> ").append(seriesAfter).append('\n')
                    .append("violations: ").append(violations).append('\n');
            examples.forEach(example -> text.append("  ").append(example).append('\n'));
            return text.toString();
        }
    }

    private final Options options;
    private final ServerProcess server;
    private final int port;
    private final List<String> tokens = new ArrayList<>();
    private final Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> closes = new ConcurrentHashMap<>();
    private final AtomicLong violations = new AtomicLong();
    private final List<String> examples = Collections.synchronizedList(new ArrayList<>());
    private final AtomicLong sent = new AtomicLong();
    private volatile long rssHalfwayKb = -1;
    private final AtomicLong reconnects = new AtomicLong();
    private final AtomicLong sentinel = new AtomicLong(1_000_000_000_000L);

    private SocketFuzzer(Options options, ServerProcess server) {
        this.options = options;
        this.server = server;
        this.port = server.uri("/").getPort();
    }

    /** Runs the fuzz against a server started with {@link #SERVER_ENV}. */
    public static Report run(Options options, ServerProcess server) throws InterruptedException {
        return new SocketFuzzer(options, server).run();
    }

    private Report run() throws InterruptedException {
        for (int i = 0; i < options.users(); i++) {
            tokens.add(signUp());
        }
        long pid = server.process().pid();
        long seriesBefore = metricSeries();
        long rssBefore = rssKb(pid);
        long fdsBefore = fds(pid);
        long started = System.nanoTime();
        SplittableRandom root = new SplittableRandom(options.seed());
        List<Thread> workers = new ArrayList<>();
        long perSocket = (options.frames() + options.sockets() - 1) / options.sockets();
        for (int k = 0; k < options.sockets(); k++) {
            SplittableRandom random = root.split();
            String token = tokens.get(k % tokens.size());
            int index = k;
            workers.add(Thread.ofPlatform().name("fuzz-" + k).start(() -> new Worker(index, random, token)
                    .run(perSocket)));
        }
        for (Thread worker : workers) {
            worker.join();
        }
        long seconds = Math.max(1, (System.nanoTime() - started) / 1_000_000_000L);
        // Closed sockets are released a moment after their close: let the counts settle before reading them.
        Thread.sleep(2000);
        return new Report(sent.get(), seconds, reconnects.get(), snapshot(outcomes), snapshot(closes),
                violations.get(), List.copyOf(examples), rssBefore, rssHalfwayKb, rssKb(pid), fdsBefore, fds(pid),
                seriesBefore,
                metricSeries());
    }

    private static Map<String, Long> snapshot(Map<String, LongAdder> counters) {
        Map<String, Long> copy = new TreeMap<>();
        counters.forEach((key, value) -> copy.put(key, value.sum()));
        return copy;
    }

    private void count(Map<String, LongAdder> counters, String key) {
        counters.computeIfAbsent(key, k -> new LongAdder()).increment();
    }

    private void violation(String what) {
        violations.incrementAndGet();
        if (examples.size() < KEPT_VIOLATIONS) {
            examples.add(what);
        }
    }

    /** What a frame must get: the socket stays open, a given close code, or (Helidon's two cases) the end. */
    private record Expect(int closeCode, boolean mayDrop) {
        static final Expect OPEN = new Expect(0, false);

        static Expect close(int code) {
            return new Expect(code, false);
        }

        static Expect closeOrDrop(int code) {
            return new Expect(code, true);
        }
    }

    /** One frame as bytes on the wire, with what it must get and a name for reports. */
    private record Shot(String kind, byte[] wire, Expect expect) {
    }

    private final class Worker {
        private final int index;
        private final SplittableRandom random;
        private final String token;
        private RawSocket socket;
        /** Whether this connection has carried a text message: Helidon then reads a stray continuation as one. */
        private boolean textSeen;

        Worker(int index, SplittableRandom random, String token) {
            this.index = index;
            this.random = random;
            this.token = token;
        }

        void run(long frames) {
            try {
                connect();
                for (long i = 0; i < frames; i++) {
                    Shot shot = next();
                    if (sent.incrementAndGet() == options.frames() / 2) {
                        rssHalfwayKb = rssKb(server.process().pid());
                    }
                    shoot(shot, i);
                }
            } catch (RuntimeException e) {
                violation("socket " + index + " stopped: " + e);
            } finally {
                if (socket != null) {
                    socket.close();
                }
            }
        }

        private void connect() {
            for (int attempt = 0; ; attempt++) {
                RawSocket candidate = RawSocket.upgrade(port, "/ws", Map.of("Authorization", "Bearer " + token));
                if (candidate.handshake().status() == 101) {
                    candidate.readTimeout(Duration.ofSeconds(15));
                    JsonNode first = Json.parse(candidate.readFrame().text());
                    if (!"connection_established".equals(first.path("type").asText())) {
                        violation("socket " + index + ": first frame " + first);
                    }
                    socket = candidate;
                    textSeen = false;
                    return;
                }
                candidate.close();
                if (attempt == 50) {
                    throw new IllegalStateException("socket " + index + " cannot connect: "
                            + candidate.handshake().status() + " " + candidate.handshake().body());
                }
                sleep(100);
            }
        }

        private void reconnect() {
            socket.close();
            reconnects.incrementAndGet();
            connect();
        }

        private void shoot(Shot shot, long frame) {
            String where = "socket " + index + " frame " + frame + " (" + shot.kind() + ")";
            try {
                socket.output().write(shot.wire());
                socket.output().flush();
                if (shot.expect().closeCode() == 0) {
                    awaitSentinel(where);
                    textSeen = true;
                } else {
                    awaitClose(where, shot.expect());
                }
            } catch (IOException | UncheckedIOException e) {
                if (shot.expect().mayDrop()) {
                    count(closes, "dropped (Helidon)");
                } else {
                    count(closes, "dropped");
                    violation(where + ": the connection ended without a close frame: " + e.getMessage());
                }
                reconnect();
            }
        }

        /** Sends a ping with a unique timestamp and reads until its pong; everything before it is checked. */
        private void awaitSentinel(String where) {
            long stamp = sentinel.incrementAndGet();
            socket.sendText("{\"type\":\"ping\",\"payload\":{\"timestamp\":" + stamp + "}}");
            while (true) {
                RawSocket.Frame frame = socket.readFrame();
                if (frame.opcode() == RawSocket.CLOSE) {
                    count(closes, Integer.toString(frame.closeCode()));
                    violation(where + ": closed " + frame.closeCode() + " " + frame.closeReason());
                    reconnect();
                    return;
                }
                if (frame.opcode() != RawSocket.TEXT) {
                    count(outcomes, "frame:" + frame.opcode());
                    continue;
                }
                JsonNode event = Json.parse(frame.text());
                String type = event.path("type").asText();
                if (type.equals("pong") && event.path("data").path("timestamp").asLong() == stamp) {
                    return;
                }
                check(where, type, event);
            }
        }

        private void awaitClose(String where, Expect expect) {
            while (true) {
                RawSocket.Frame frame = socket.readFrame();
                if (frame.opcode() == RawSocket.CLOSE) {
                    count(closes, Integer.toString(frame.closeCode()));
                    if (frame.closeCode() != expect.closeCode()) {
                        violation(where + ": closed " + frame.closeCode() + " " + frame.closeReason() + ", expected "
                                + expect.closeCode());
                    }
                    reconnect();
                    return;
                }
                if (frame.opcode() == RawSocket.TEXT) {
                    JsonNode event = Json.parse(frame.text());
                    check(where, event.path("type").asText(), event);
                }
            }
        }

        private void check(String where, String type, JsonNode event) {
            if (type.equals("error") || type.equals("agent_error")) {
                JsonNode error = event.path("data").path("error");
                String code = error.path("code").asText();
                count(outcomes, type + ":" + code);
                if (code.equals("internal") || code.isEmpty()) {
                    violation(where + ": " + event);
                }
            } else {
                count(outcomes, type);
            }
        }

        // ---- frame generation ----

        private Shot next() {
            int roll = random.nextInt(1000);
            if (roll < 560) {
                return text("mutated message", mutated(), Expect.OPEN);
            }
            if (roll < 660) {
                return text("valid message", Json.write(template()), Expect.OPEN);
            }
            if (roll < 710) {
                return fragmented();
            }
            if (roll < 760) {
                return text("json bomb", bomb(), Expect.OPEN);
            }
            if (roll < 790) {
                return invalidUtf8();
            }
            if (roll < 810) {
                return new Shot("binary frame", frame(0x2, true, 0, true, bytes(random.nextInt(200))),
                        Expect.close(1003));
            }
            if (roll < 830) {
                int opcode = random.nextBoolean() ? 3 + random.nextInt(5) : 0xB + random.nextInt(5);
                return new Shot("reserved opcode " + opcode, frame(opcode, true, 0, true, bytes(random.nextInt(50))),
                        Expect.close(1002));
            }
            if (roll < 850) {
                int rsv = (1 + random.nextInt(7)) << 4;
                return new Shot("reserved bits", frame(0x1, true, rsv, true, utf8("{\"type\":\"ping\"}")),
                        Expect.close(1002));
            }
            if (roll < 870) {
                // Helidon 4.5 keeps a connection's last data opcode: after a text message, a stray continuation
                // is read as a new text message (pinned in SocketFramesTest); before one, it closes with 1002.
                return textSeen
                        ? new Shot("stray continuation (read as text)", frame(0x0, true, 0, true, utf8("{}")), Expect.OPEN)
                        : new Shot("continuation first", frame(0x0, true, 0, true, utf8("{}")), Expect.close(1002));
            }
            if (roll < 880) {
                return new Shot("unmasked", frame(0x1, true, 0, false, utf8("{\"type\":\"ping\"}")),
                        Expect.close(1002));
            }
            if (roll < 900) {
                byte[] payload = new byte[MAX_FRAME_BYTES + 1 + random.nextInt(100_000)];
                java.util.Arrays.fill(payload, (byte) 'a');
                return new Shot("oversized", frame(0x1, true, 0, true, payload), Expect.close(1009));
            }
            if (roll < 940) {
                return closeFrame();
            }
            if (roll < 980) {
                return new Shot("ping frame", frame(0x9, true, 0, true, bytes(random.nextInt(126))), Expect.OPEN);
            }
            if (roll < 990) {
                return new Shot("pong frame", frame(0xA, true, 0, true, bytes(random.nextInt(126))), Expect.OPEN);
            }
            if (roll < 995) {
                return new Shot("control frame over 125 bytes",
                        frame(0x9, true, 0, true, bytes(126 + random.nextInt(1000))), Expect.closeOrDrop(1002));
            }
            return new Shot("close with one byte", frame(0x8, true, 0, true, bytes(1)), Expect.closeOrDrop(1002));
        }

        private Shot text(String kind, String text, Expect expect) {
            byte[] payload = utf8(text);
            if (payload.length > MAX_FRAME_BYTES) {
                return new Shot(kind + " (oversized)", frame(0x1, true, 0, true, payload), Expect.close(1009));
            }
            if (text.indexOf('\uFFFD') >= 0) {
                // A client that means U+FFFD must escape it: raw, it reads as a frame that was not UTF-8.
                return new Shot(kind + " (U+FFFD)", frame(0x1, true, 0, true, payload), Expect.close(1007));
            }
            return new Shot(kind, frame(0x1, true, 0, true, payload), expect);
        }

        private Shot fragmented() {
            byte[] whole = utf8(Json.write(template()));
            int parts = 2 + random.nextInt(3);
            java.io.ByteArrayOutputStream wire = new java.io.ByteArrayOutputStream();
            int at = 0;
            for (int part = 0; part < parts; part++) {
                int end = part == parts - 1 ? whole.length : Math.min(whole.length, at + random.nextInt(whole.length));
                // Fragment boundaries between characters: Helidon 4.5 decodes each fragment of a text message on its
                // own, so a character split across two fragments reads as invalid UTF-8 (pinned in SocketFramesTest).
                while (end < whole.length && (whole[end] & 0xC0) == 0x80) {
                    end++;
                }
                byte[] piece = java.util.Arrays.copyOfRange(whole, at, end);
                wire.writeBytes(frame(part == 0 ? 0x1 : 0x0, part == parts - 1, 0, true, piece));
                if (part < parts - 1 && random.nextInt(4) == 0) {
                    // A ping between the fragments of a message is allowed.
                    wire.writeBytes(frame(0x9, true, 0, true, bytes(random.nextInt(20))));
                }
                at = end;
            }
            return new Shot("fragmented message", wire.toByteArray(), Expect.OPEN);
        }

        private Shot invalidUtf8() {
            byte[] valid = utf8(Json.write(template()));
            byte[][] bad = {{(byte) 0xFF}, {(byte) 0xC0, (byte) 0x80}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                {(byte) 0xE2, (byte) 0x82}, {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0x80}};
            byte[] insert = bad[random.nextInt(bad.length)];
            int at = random.nextInt(valid.length + 1);
            byte[] payload = new byte[valid.length + insert.length];
            System.arraycopy(valid, 0, payload, 0, at);
            System.arraycopy(insert, 0, payload, at, insert.length);
            System.arraycopy(valid, at, payload, at + insert.length, valid.length - at);
            return new Shot("invalid UTF-8", frame(0x1, true, 0, true, payload), Expect.close(1007));
        }

        private Shot closeFrame() {
            int[] forbidden = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65_535};
            int[] allowed = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 3000, 4000, 4999};
            int choice = random.nextInt(3);
            if (choice == 0) {
                int code = forbidden[random.nextInt(forbidden.length)];
                return new Shot("close " + code, frame(0x8, true, 0, true, closePayload(code, new byte[0])),
                        Expect.close(1002));
            }
            if (choice == 1) {
                int code = allowed[random.nextInt(allowed.length)];
                return new Shot("close " + code, frame(0x8, true, 0, true,
                        closePayload(code, utf8(NAUGHTY[random.nextInt(6)]))), Expect.close(1000));
            }
            return new Shot("close reason not UTF-8", frame(0x8, true, 0, true,
                    closePayload(1000, new byte[] {(byte) 0xC3, (byte) 0x28})), Expect.close(1007));
        }

        private ObjectNode template() {
            ObjectNode message = Json.object();
            String type = TYPES[random.nextInt(TYPES.length)];
            if (type.endsWith("agent") || type.contains("message")) {
                // Runs are a small share: each one writes to the database and streams events.
                if (random.nextInt(10) != 0) {
                    type = "ping";
                }
            }
            message.put("type", type);
            if (random.nextBoolean()) {
                message.put("message_id", "m" + random.nextInt(1_000_000));
            }
            ObjectNode payload = message.putObject("payload");
            switch (type) {
                case "start_agent", "execute_agent" -> {
                    payload.put("user_request", naughtyOr("hello"));
                    if (random.nextBoolean()) {
                        payload.put("thread_id", UUID.randomUUID().toString());
                    }
                }
                case "user_message", "chat_message", "message" -> payload.put("content", naughtyOr("hi"));
                case "stop_agent" -> payload.put("run_id", naughtyOr(UUID.randomUUID().toString()));
                case "resume" -> {
                    payload.put("run_id", naughtyOr(UUID.randomUUID().toString()));
                    payload.put("last_seq", random.nextLong());
                }
                case "get_thread_history" -> {
                    payload.put("thread_id", naughtyOr(UUID.randomUUID().toString()));
                    payload.put("limit", random.nextInt(-5, 500));
                }
                case "auth_refresh" -> payload.put("token", naughtyOr("a.b.c"));
                case "ping" -> payload.put("timestamp", random.nextLong());
                default -> {
                }
            }
            return message;
        }

        private String naughtyOr(String plain) {
            return random.nextInt(3) == 0 ? NAUGHTY[random.nextInt(NAUGHTY.length)] : plain;
        }

        /** A valid message, then one to three mutations of its tree or of its text. */
        private String mutated() {
            ObjectNode message = template();
            int mutations = 1 + random.nextInt(3);
            String text = null;
            for (int m = 0; m < mutations; m++) {
                if (text == null && random.nextInt(3) != 0) {
                    mutateTree(message);
                } else {
                    text = mutateText(text == null ? Json.write(message) : text);
                }
            }
            return text == null ? Json.write(message) : text;
        }

        private void mutateTree(ObjectNode message) {
            List<ObjectNode> objects = new ArrayList<>();
            collect(message, objects);
            ObjectNode target = objects.get(random.nextInt(objects.size()));
            List<String> names = new ArrayList<>();
            target.fieldNames().forEachRemaining(names::add);
            String name = names.isEmpty() || random.nextInt(4) == 0 ? pick(new String[] {"type", "payload",
                "message_id", "run_id", "thread_id", "last_seq", "limit", "before", "token", "content",
                "user_request", "timestamp", NAUGHTY[random.nextInt(NAUGHTY.length)]})
                    : names.get(random.nextInt(names.size()));
            switch (random.nextInt(4)) {
                case 0 -> target.remove(name);
                default -> target.set(name, randomValue(0));
            }
        }

        private void collect(JsonNode node, List<ObjectNode> into) {
            if (node instanceof ObjectNode object) {
                into.add(object);
                object.elements().forEachRemaining(child -> collect(child, into));
            }
        }

        private JsonNode randomValue(int depth) {
            JsonNodeFactory nodes = JsonNodeFactory.instance;
            return switch (random.nextInt(depth > 3 ? 9 : 11)) {
                case 0 -> nodes.nullNode();
                case 1 -> nodes.booleanNode(random.nextBoolean());
                case 2 -> nodes.numberNode(random.nextLong());
                case 3 -> nodes.numberNode(random.nextDouble() * Math.pow(10, random.nextInt(-300, 300)));
                case 4 -> nodes.textNode(NAUGHTY[random.nextInt(NAUGHTY.length)]);
                case 5 -> nodes.textNode(pick(TYPES));
                case 6 -> nodes.textNode(UUID.randomUUID().toString());
                case 7 -> nodes.numberNode(new java.math.BigInteger(1 + random.nextInt(90), new java.util.Random(
                        random.nextLong())));
                case 8 -> nodes.textNode("x".repeat(random.nextInt(20_000)));
                case 9 -> {
                    ArrayNode array = nodes.arrayNode();
                    for (int i = random.nextInt(4); i > 0; i--) {
                        array.add(randomValue(depth + 1));
                    }
                    yield array;
                }
                default -> {
                    ObjectNode object = nodes.objectNode();
                    for (int i = random.nextInt(4); i > 0; i--) {
                        object.set(pick(new String[] {"type", "payload", "run_id", "a", ""}), randomValue(depth + 1));
                    }
                    yield object;
                }
            };
        }

        private String mutateText(String text) {
            StringBuilder out = new StringBuilder(text);
            switch (random.nextInt(8)) {
                case 0 -> {
                    if (!out.isEmpty()) {
                        int at = random.nextInt(out.length());
                        out.delete(at, Math.min(out.length(), at + 1 + random.nextInt(8)));
                    }
                }
                case 1 -> out.insert(random.nextInt(out.length() + 1), pick(new String[] {"{", "}", "[", "]",
                    "\"", ":", ",", "\\", "\\u", "\\ud800", "0", "-", "e", ".", "\u0000", "\t", "\n", "//", "/*"}));
                case 2 -> out.setLength(random.nextInt(out.length() + 1));
                case 3 -> out.append(pick(new String[] {"}", "]", "{}", " x", "\u0000", "\"", ",{}"}));
                case 4 -> out.insert(0, pick(new String[] {"\ufeff", " ", "[", "{\"type\":\"ping\"}", "\u0000"}));
                case 5 -> {
                    int at = random.nextInt(out.length() + 1);
                    out.insert(at, NAUGHTY[random.nextInt(NAUGHTY.length)]);
                }
                case 6 -> {
                    int at = out.indexOf(":");
                    if (at >= 0) {
                        out.insert(at + 1, "NaN,\"x\":");
                    }
                }
                default -> {
                    int at = out.indexOf("{", 1);
                    if (at > 0) {
                        out.insert(at, out.substring(0, at));
                    }
                }
            }
            return out.toString();
        }

        private String bomb() {
            int kind = random.nextInt(4);
            int size = kind < 2 ? 50 + random.nextInt(3000) : 20 + random.nextInt(5000);
            return switch (kind) {
                case 0 -> "{\"type\":\"ping\",\"payload\":" + "[".repeat(size) + "]".repeat(size) + "}";
                case 1 -> "{\"type\":\"ping\",\"payload\":" + "{\"a\":".repeat(size) + "1" + "}".repeat(size) + "}";
                case 2 -> "{\"type\":\"ping\",\"payload\":{\"timestamp\":" + "9".repeat(size) + "}}";
                default -> "{\"type\":\"ping\",\"payload\":{\"timestamp\":0." + "1".repeat(size) + "e99999}}";
            };
        }

        private String pick(String[] values) {
            return values[random.nextInt(values.length)];
        }

        private byte[] bytes(int length) {
            byte[] bytes = new byte[length];
            random.nextBytes(bytes);
            return bytes;
        }
    }

    static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] closePayload(int code, byte[] reason) {
        byte[] payload = new byte[2 + reason.length];
        payload[0] = (byte) (code >>> 8);
        payload[1] = (byte) code;
        System.arraycopy(reason, 0, payload, 2, reason.length);
        return payload;
    }

    /** One frame as a client writes it (masked unless {@code masked} is false); {@code rsv} in bits 4-6. */
    static byte[] frame(int opcode, boolean fin, int rsv, boolean masked, byte[] payload) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(payload.length + 14);
        out.write((fin ? 0x80 : 0) | rsv | opcode);
        int mask = masked ? 0x80 : 0;
        if (payload.length < 126) {
            out.write(mask | payload.length);
        } else if (payload.length < 65_536) {
            out.write(mask | 126);
            out.write(payload.length >>> 8);
            out.write(payload.length & 0xFF);
        } else {
            out.write(mask | 127);
            for (int shift = 56; shift >= 0; shift -= 8) {
                out.write((int) (((long) payload.length >>> shift) & 0xFF));
            }
        }
        if (!masked) {
            out.writeBytes(payload);
            return out.toByteArray();
        }
        byte[] key = {0x1F, 0x2E, 0x3D, 0x4C};
        out.writeBytes(key);
        for (int i = 0; i < payload.length; i++) {
            out.write(payload[i] ^ key[i % 4]);
        }
        return out.toByteArray();
    }

    private String signUp() {
        String body = "{\"email\":\"fuzz-" + UUID.randomUUID() + "@example.org\",\"password\":\"correct horse battery\"}";
        HttpResponse<String> response = http(HttpRequest.newBuilder(server.uri("/auth/register"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
        if (response.statusCode() != 201) {
            throw new IllegalStateException("sign-up answered " + response.statusCode() + ": " + response.body());
        }
        return Json.parse(response.body()).path("access_token").asText();
    }

    private long metricSeries() {
        String text = http(HttpRequest.newBuilder(server.uri("/metrics")).build()).body();
        return text.lines().filter(line -> !line.isBlank() && !line.startsWith("#")).count();
    }

    private static HttpResponse<String> http(HttpRequest request) {
        try (HttpClient client = HttpClient.newHttpClient()) {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static long rssKb(long pid) {
        try (Stream<String> lines = Files.lines(Path.of("/proc/" + pid + "/status"))) {
            return lines.filter(line -> line.startsWith("VmRSS:"))
                    .mapToLong(line -> Long.parseLong(line.replaceAll("[^0-9]", "")))
                    .findFirst().orElse(-1);
        } catch (IOException e) {
            return -1;
        }
    }

    static long fds(long pid) {
        try (Stream<Path> entries = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return entries.count();
        } catch (IOException e) {
            return -1;
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The image's JVM flags with Cloud Run's 512 MiB (bin/image.sh), so that RSS reads as it would there;
     * {@code PARLEY_FUZZ_SERVER_JVM_OPTS} (space-separated) replaces them, to compare other settings.
     */
    static final List<String> IMAGE_JVM_FLAGS = serverJvmFlags();

    private static List<String> serverJvmFlags() {
        String configured = System.getenv("PARLEY_FUZZ_SERVER_JVM_OPTS");
        if (configured != null && !configured.isBlank()) {
            return List.of(configured.trim().split("\\s+"));
        }
        return List.of("-XX:MaxRAM=512m", "-XX:MaxRAMPercentage=65", "-XX:+UseSerialGC", "-XX:NewSize=24m",
                "-XX:+ExitOnOutOfMemoryError", "-XX:TrimNativeHeapInterval=5000");
    }

    /** {@code bin/fuzz}: starts a server process on a fresh data directory and prints the report. */
    public static void main(String[] args) throws Exception {
        long seed = 1;
        long frames = 1_000_000;
        int sockets = 24;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--frames" -> frames = Long.parseLong(args[++i]);
                case "--sockets" -> sockets = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("usage: bin/fuzz [--frames N] [--seed S] [--sockets K]");
            }
        }
        Path data = Files.createTempDirectory("parley-fuzz");
        try (ServerProcess server = ServerProcess.start(data, SERVER_ENV, IMAGE_JVM_FLAGS)) {
            if (!server.awaitReady()) {
                throw new IllegalStateException("the server did not become ready:\n" + server.log());
            }
            System.out.printf("fuzz: seed %d, %d frames over %d sockets against pid %d%n", seed, frames, sockets,
                    server.process().pid());
            Report report = run(new Options(seed, frames, sockets, Math.min(sockets, 8)), server);
            System.out.print(report.summary());
            if (report.violations() > 0 || !server.process().isAlive()) {
                System.out.println("fuzz: FAILED (server alive: " + server.process().isAlive() + ")");
                System.exit(1);
            }
        }
    }
}
