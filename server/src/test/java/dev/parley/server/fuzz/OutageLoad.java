package dev.parley.server.fuzz;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.ServerProcess;
import dev.parley.server.testing.SocketClient;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/** What the outage drills share: users signed up over HTTP with a socket each, and the checks of what was stored. */
final class OutageLoad {
    private OutageLoad() {
    }

    /** Registers {@code users} accounts over HTTP and opens one socket each, past its first frame. */
    static List<SocketClient> signUp(HttpClient http, ServerProcess server, int users, String emailPrefix)
            throws Exception {
        List<SocketClient> sockets = new ArrayList<>();
        for (int k = 0; k < users; k++) {
            String token = Json.parse(http.send(HttpRequest.newBuilder(server.uri("/auth/register"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"email\":\"" + emailPrefix + "-" + UUID.randomUUID()
                            + "@example.org\",\"password\":\"correct horse battery\"}")).build(),
                    HttpResponse.BodyHandlers.ofString()).body()).path("access_token").asText();
            SocketClient socket = SocketClient.connect(http, server.wsUri("/ws"),
                    Map.of("Authorization", "Bearer " + token), List.of());
            socket.next();
            sockets.add(socket);
        }
        return sockets;
    }

    /** Starts, per socket, a thread that sends and one that reads; returns them to join. */
    static List<Thread> drive(List<SocketClient> sockets, BiConsumer<SocketClient, Integer> sender,
                              Consumer<SocketClient> reader) {
        List<Thread> threads = new ArrayList<>();
        for (int k = 0; k < sockets.size(); k++) {
            SocketClient socket = sockets.get(k);
            int user = k;
            threads.add(Thread.ofPlatform().start(() -> sender.accept(socket, user)));
            threads.add(Thread.ofPlatform().start(() -> reader.accept(socket)));
        }
        return threads;
    }

    /**
     * Sends a {@code start_agent} every {@code every} until {@code end} ({@link System#nanoTime()}), each request named
     * {@code <prefix>-<n>} and used as its message id; {@code beforeSend} sees each name first.
     */
    static void sendStarts(SocketClient socket, String prefix, long end, Duration every, Consumer<String> beforeSend) {
        sendStarts(socket, prefix, end, every, Duration.ZERO, beforeSend);
    }

    /** As above; a {@code stepDelay} above zero asks the offline agent to pace its steps, so that runs last. */
    static void sendStarts(SocketClient socket, String prefix, long end, Duration every, Duration stepDelay,
                           Consumer<String> beforeSend) {
        for (int n = 0; System.nanoTime() < end; n++) {
            String request = prefix + "-" + n;
            beforeSend.accept(request);
            ObjectNode payload = Json.object().put("user_request", request);
            if (!stepDelay.isZero()) {
                payload.putObject("settings").put("step_delay_ms", stepDelay.toMillis());
            }
            socket.send("start_agent", payload, request);
            try {
                Thread.sleep(every.toMillis());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** How many of the acknowledged requests are not stored exactly once as a user message. */
    static long notStored(String url, List<String> acknowledged) throws Exception {
        return notOnce(url, "SELECT COUNT(*) FROM messages WHERE role = 'user' AND content = ?", acknowledged);
    }

    /** How many of the answers ({@code agent_completed}'s {@code message_id}) are not stored as assistant messages. */
    static long missingMessages(String url, List<String> messageIds) throws Exception {
        return notOnce(url, "SELECT COUNT(*) FROM messages WHERE role = 'assistant' AND id = ?", messageIds);
    }

    /** Each run as {@code id: status, last stored event type seq} (or {@code not stored}), read from the database. */
    static List<String> describeRuns(String url, List<String> runIds) throws Exception {
        List<String> described = new ArrayList<>();
        try (Connection connection = DriverManager.getConnection(url);
             PreparedStatement query = connection.prepareStatement("SELECT r.status, e.type, e.seq FROM runs r "
                     + "LEFT JOIN run_events e ON e.run_id = r.id AND e.seq = (SELECT MAX(seq) FROM run_events "
                     + "WHERE run_id = r.id) WHERE r.id = ?")) {
            for (String runId : runIds) {
                query.setString(1, runId);
                try (ResultSet row = query.executeQuery()) {
                    described.add(runId + ": " + (row.next() ? row.getString(1) + ", " + row.getString(2) + " "
                            + row.getLong(3) : "not stored"));
                }
            }
        }
        return described;
    }

    /** How many of the values do not make {@code count} (one parameter) answer exactly 1. */
    private static long notOnce(String url, String count, List<String> values) throws Exception {
        long missing = 0;
        try (Connection connection = DriverManager.getConnection(url);
             PreparedStatement query = connection.prepareStatement(count)) {
            for (String value : values) {
                query.setString(1, value);
                try (ResultSet row = query.executeQuery()) {
                    row.next();
                    if (row.getLong(1) != 1) {
                        missing++;
                    }
                }
            }
        }
        return missing;
    }

    /** The p-th quantile (nearest rank) of the values, or -1 when there are none. */
    static long percentile(List<Long> values, double p) {
        if (values.isEmpty()) {
            return -1;
        }
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get((int) Math.max(0, Math.min(sorted.size() - 1, Math.ceil(p * sorted.size()) - 1)));
    }
}
