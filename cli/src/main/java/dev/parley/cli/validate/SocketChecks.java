package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.client.ApiResponse;
import dev.parley.client.Credentials;
import dev.parley.client.ParleySocket;
import dev.parley.client.ParleySocket.Received;
import dev.parley.client.UpgradeProbe;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.MessageType;
import dev.parley.protocol.ServerEvent;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The socket checks: opening one with each credential form, refusing one without credentials, the welcome frame,
 * ping round trips, and a malformed frame.
 */
final class SocketChecks {
    /** Sequential pings whose round trips are measured (well inside the default rate limit's burst of 10). */
    static final int PINGS = 5;
    static final String SUBPROTOCOL = "jwt-auth";

    private SocketChecks() {
    }

    /**
     * {@code socket.bearer}, {@code socket.subprotocol}, {@code socket.ticket}: the upgrade is accepted, the first frame
     * is {@code connection_established}; the subprotocol form must have {@code jwt-auth} selected; a ticket works
     * once only. The first form that passes is the one the later checks use.
     */
    static void connect(Target target, Probe probe, SocketForm form) throws IOException {
        Credentials credentials;
        if (form == SocketForm.TICKET) {
            credentials = ticket(target, probe);
        } else {
            credentials = form.credentials(target.http, target.primary);
        }
        ParleySocket socket;
        try {
            socket = ParleySocket.connect(target.http.httpClient(), target.base(), Target.WS_PATH, credentials, null,
                    target.timeout);
        } catch (ParleySocket.HandshakeRefused e) {
            throw probe.fail("the upgrade to " + Target.WS_PATH + " accepted (101)", "HTTP " + e.status()
                    + (e.body().isEmpty() ? "" : " " + Frames.excerpt(e.body())));
        } catch (IllegalStateException e) {
            throw probe.fail("the upgrade to " + Target.WS_PATH + " accepted (101)", e.getMessage());
        }
        try (socket) {
            probe.measure("connect_ms", socket.handshakeTime().toMillis());
            String selected = socket.subprotocol().orElse("");
            if (form == SocketForm.SUBPROTOCOL) {
                probe.measure("selected_subprotocol", selected.isEmpty() ? "(none)" : selected);
                probe.expect(selected.equals(SUBPROTOCOL), "the server selects the '" + SUBPROTOCOL + "' subprotocol",
                        () -> selected.isEmpty() ? "no subprotocol selected" : "'" + selected + "' selected");
            }
            Received first = Frames.await(probe, socket, 0, frame -> true, "connection_established as the first frame",
                    target.timeout);
            probe.measure("first_frame_ms", Frames.millisBetween(socket.connectedNanos(), first.arrivedNanos()));
            probe.expect(first.type().equals(EventType.CONNECTION_ESTABLISHED), "connection_established as the first frame",
                    () -> Frames.excerpt(first));
        }
        if (form == SocketForm.TICKET && credentials instanceof Credentials.Ticket ticket) {
            UpgradeProbe.Answer again = UpgradeProbe.attempt(target.base(), Target.WS_PATH + "?ticket="
                    + URLEncoder.encode(ticket.ticket(), StandardCharsets.UTF_8), Map.of(), target.timeout);
            probe.measure("reused_ticket_http_status", again.status());
            probe.expect(again.status() == 401, "a used ticket refused with HTTP 401 (tickets are single-use)",
                    () -> again.upgraded() ? "101: the upgrade was accepted a second time" : again.status() + " "
                            + Frames.excerpt(again.body()));
        }
        if (!probe.failed() && target.socketForm == null) {
            target.socketForm = form;
        }
    }

    private static Credentials ticket(Target target, Probe probe) {
        ApiResponse answer = target.http.ticket(target.primary.accessToken());
        probe.measure("ticket_http_ms", answer.elapsed().toMillis());
        JsonNode body = answer.json();
        String ticket = body.path("ticket").asText("");
        if (answer.status() != 201 || ticket.isEmpty()) {
            throw probe.fail("POST /api/websocket/ticket answers 201 with a ticket",
                    answer.status() + " " + Frames.excerpt(answer.body()));
        }
        String expiresAt = body.path("expires_at").asText("");
        probe.expect(ServerChecks.isInstant(expiresAt), "the ticket's expires_at as an ISO-8601 time",
                () -> "expires_at '" + expiresAt + "'");
        probe.expect(!body.path("websocket_url").asText("").isEmpty(), "the ticket answer names a websocket_url",
                () -> Frames.excerpt(answer.body()));
        if (ServerChecks.isInstant(expiresAt)) {
            probe.measure("ticket_lifetime_s", Duration.between(Instant.now(), Instant.parse(expiresAt)).toSeconds());
        }
        return new Credentials.Ticket(ticket);
    }

    /**
     * {@code socket.refuses_without_credentials}: an upgrade without credentials, and one with an invalid bearer
     * token, are both answered with HTTP 401 and a JSON error body before any socket exists.
     */
    static void refusesWithoutCredentials(Target target, Probe probe) throws IOException {
        UpgradeProbe.Answer bare = UpgradeProbe.attempt(target.base(), Target.WS_PATH, Map.of(), target.timeout);
        probe.measure("http_status", bare.status());
        probe.measure("http_ms", bare.elapsed().toMillis());
        expectRefusal(probe, bare, "without credentials");
        UpgradeProbe.Answer bad = UpgradeProbe.attempt(target.base(), Target.WS_PATH,
                Map.of("Authorization", "Bearer not-a-valid-token"), target.timeout);
        probe.measure("bad_token_http_status", bad.status());
        expectRefusal(probe, bad, "with an invalid bearer token");
    }

    private static void expectRefusal(Probe probe, UpgradeProbe.Answer answer, String how) {
        if (answer.upgraded()) {
            probe.mismatch("the upgrade " + how + " refused with HTTP 401", "101: the upgrade was accepted " + how);
            return;
        }
        probe.expect(answer.status() == 401, "the upgrade " + how + " refused with HTTP 401",
                () -> answer.status() + " " + Frames.excerpt(answer.body()));
        JsonNode body;
        try {
            body = Json.parse(answer.body());
        } catch (RuntimeException e) {
            probe.mismatch("a JSON error body {error:{code, message, request_id}} refusing the upgrade " + how,
                    answer.body().isEmpty() ? "an empty body" : Frames.excerpt(answer.body()));
            return;
        }
        JsonNode error = body.path("error");
        probe.expect(!error.path("code").asText("").isEmpty() && !error.path("message").asText("").isEmpty()
                        && !error.path("request_id").asText("").isEmpty(),
                "a JSON error body {error:{code, message, request_id}} refusing the upgrade " + how,
                () -> Frames.excerpt(answer.body()));
    }

    /** {@code socket.welcome}: every field of {@code connection_established} (protocol §2, "Server events"). */
    static void welcome(Target target, Probe probe) {
        try (ParleySocket socket = target.open(target.primary)) {
            probe.measure("connect_ms", socket.handshakeTime().toMillis());
            Received first = Frames.await(probe, socket, 0, frame -> true, "connection_established as the first frame",
                    target.timeout);
            probe.measure("first_frame_ms", Frames.millisBetween(socket.connectedNanos(), first.arrivedNanos()));
            Instant arrived = Instant.now();
            if (!first.type().equals(EventType.CONNECTION_ESTABLISHED)) {
                throw probe.fail("connection_established as the first frame", Frames.excerpt(first));
            }
            probe.expect(first.event().timestamp() != null, "an ISO-8601 timestamp on the envelope",
                    () -> "timestamp " + first.raw().path("timestamp"));
            JsonNode data = first.event().data();
            List<String> wrong = new ArrayList<>();
            requireText(data, "connection_id", wrong);
            String userId = data.path("user_id").asText("");
            if (!userId.equals(target.primary.userId())) {
                wrong.add("user_id is '" + userId + "', the user is '" + target.primary.userId() + "'");
            }
            String serverTime = data.path("server_time").asText("");
            if (!ServerChecks.isInstant(serverTime)) {
                wrong.add("server_time is " + data.path("server_time") + ", not an ISO-8601 time");
            } else {
                probe.measure("server_time_minus_local_ms", Duration.between(arrived, Instant.parse(serverTime)).toMillis());
            }
            requirePositive(data, "heartbeat_interval_ms", wrong, probe);
            requirePositive(data, "max_message_bytes", wrong, probe);
            if (!data.path("protocol_version").isIntegralNumber() || data.path("protocol_version").asInt() != 1) {
                wrong.add("protocol_version is " + data.path("protocol_version") + ", expected 1");
            }
            if (!data.path("event").asText("").equals(EventType.CONNECTION_ESTABLISHED)) {
                wrong.add("event is " + data.path("event") + ", expected \"connection_established\"");
            }
            if (!data.path("connection_ready").isBoolean() || !data.path("connection_ready").asBoolean()) {
                wrong.add("connection_ready is " + data.path("connection_ready") + ", expected true");
            }
            for (String problem : wrong) {
                probe.mismatch("connection_established {connection_id, user_id, server_time, heartbeat_interval_ms, "
                        + "max_message_bytes, protocol_version:1, event, connection_ready:true}", problem);
            }
        }
    }

    private static void requireText(JsonNode data, String field, List<String> wrong) {
        if (data.path(field).asText("").isEmpty()) {
            wrong.add(field + " is missing or empty");
        }
    }

    private static void requirePositive(JsonNode data, String field, List<String> wrong, Probe probe) {
        JsonNode value = data.path(field);
        if (!value.isIntegralNumber() || value.asLong() <= 0) {
            wrong.add(field + " is " + value + ", expected a positive integer");
        } else {
            probe.measure(field, value.asLong());
        }
    }

    /** {@code socket.ping}: {@value #PINGS} pings in a row, each answered by a {@code pong}; round trips measured. */
    static void ping(Target target, Probe probe) {
        try (ParleySocket socket = target.open(target.primary)) {
            Frames.await(probe, socket, 0, frame -> true, "connection_established as the first frame", target.timeout);
            List<Long> roundTrips = new ArrayList<>();
            boolean echoed = true;
            for (int i = 0; i < PINGS; i++) {
                String sentTimestamp = ServerEvent.formatTimestamp(Instant.now());
                int mark = socket.frameCount();
                long sent = System.nanoTime();
                socket.send(MessageType.PING.wireName(), Json.object().put("timestamp", sentTimestamp), null);
                Received pong = Frames.await(probe, socket, mark, frame -> frame.type().equals(EventType.PONG),
                        "pong answering ping " + (i + 1), target.timeout);
                roundTrips.add(Math.max(0, pong.arrivedNanos() - sent));
                JsonNode data = pong.event().data();
                echoed &= data.path("timestamp").asText("").equals(sentTimestamp);
                probe.expect(ServerChecks.isInstant(data.path("server_time").asText("")),
                        "pong {timestamp, server_time} with an ISO-8601 server_time", () -> Frames.excerpt(pong));
                probe.expect(data.hasNonNull("timestamp"), "pong {timestamp, server_time} with a timestamp",
                        () -> Frames.excerpt(pong));
            }
            probe.measure("pings", PINGS);
            Percentiles rtt = Percentiles.ofNanos(roundTrips);
            probe.measure("rtt_ms_min", rtt.min());
            probe.measure("rtt_ms_p50", rtt.p50());
            probe.measure("rtt_ms_max", rtt.max());
            probe.measure("pong_echoes_timestamp", echoed);
        }
    }

    /**
     * {@code malformed_frame}: {@code {not json} is answered with an {@code error} whose code is {@code invalid_json},
     * and the socket stays open (a ping after it is answered).
     */
    static void malformedFrame(Target target, Probe probe) {
        try (ParleySocket socket = target.open(target.primary)) {
            Frames.await(probe, socket, 0, frame -> true, "connection_established as the first frame", target.timeout);
            int mark = socket.frameCount();
            long sent = System.nanoTime();
            socket.sendRaw("{not json");
            Received answer = Frames.await(probe, socket, mark, frame -> !frame.type().equals(EventType.HEARTBEAT),
                    "an error frame answering {not json", target.timeout);
            probe.measure("error_ms", Frames.millisBetween(sent, answer.arrivedNanos()));
            JsonNode error = answer.event().data().path("error");
            probe.expect(answer.type().equals(EventType.ERROR)
                            && error.path("code").asText("").equals(ErrorCode.INVALID_JSON.code()),
                    "error {error:{code:\"invalid_json\", message}} answering {not json", () -> Frames.excerpt(answer));
            probe.expect(!error.path("message").asText("").isEmpty() || !answer.type().equals(EventType.ERROR),
                    "the error names a message", () -> Frames.excerpt(answer));
            int afterError = socket.frameCount();
            long pingSent = System.nanoTime();
            ObjectNode payload = Json.object();
            try {
                socket.send(MessageType.PING.wireName(), payload, null);
            } catch (RuntimeException e) {
                throw probe.fail("the socket still open after the malformed frame", "sending a ping failed: "
                        + Frames.silence(socket, afterError, Duration.ZERO));
            }
            Received pong = Frames.await(probe, socket, afterError, frame -> frame.type().equals(EventType.PONG),
                    "the socket still open after the malformed frame: a pong answering the next ping", target.timeout);
            probe.measure("pong_after_error_ms", Frames.millisBetween(pingSent, pong.arrivedNanos()));
        }
    }
}
