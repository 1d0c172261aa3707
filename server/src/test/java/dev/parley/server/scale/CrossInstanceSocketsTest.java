package dev.parley.server.scale;

import static dev.parley.server.scale.Cluster.payload;
import static dev.parley.server.scale.Cluster.start;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ParleySocket;
import dev.parley.protocol.Json;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two instances sharing PostgreSQL and Redis, seen through real sockets: a run's events reach the user's sockets on
 * both instances once each and in order; resume works on the instance that did not run the run; a stop from the
 * other instance stops the run, and so does deleting its thread there; the socket limit and socket tickets hold across
 * instances.
 */
class CrossInstanceSocketsTest {
    private static Cluster cluster;

    @BeforeAll
    static void startCluster() {
        cluster = Cluster.start(Map.of("PARLEY_WS_MAX_SOCKETS_PER_USER", "3"), new ScriptedAgent(Duration.ofMillis(40)));
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static List<Long> seqs(List<JsonNode> events) {
        return events.stream().map(e -> e.path("seq").asLong()).toList();
    }

    @Test
    void everyEventOfARunReachesTheUsersSocketsOnBothInstancesOnceInOrder() {
        TestUsers.User user = TestUsers.register(cluster.a);
        try (SocketClient onA = connected(cluster.a, user); SocketClient onB = connected(cluster.b, user)) {
            JsonNode started = start(onA, "deltas 20");
            String runId = started.path("run_id").asText();
            List<JsonNode> fromA = new ArrayList<>(List.of(started));
            fromA.addAll(onA.runEvents(runId));
            List<JsonNode> fromB = onB.runEvents(runId);
            assertThat(seqs(fromA)).isEqualTo(seqs(fromB));
            assertThat(fromB).hasSize(25);
            for (int i = 0; i < fromB.size(); i++) {
                assertThat(fromB.get(i).path("seq").asLong()).isEqualTo(i + 1);
                assertThat(fromB.get(i)).isEqualTo(fromA.get(i));
            }
        }
    }

    @Test
    void aRunOfOneInstanceIsResumedOnTheOther() {
        TestUsers.User user = TestUsers.register(cluster.a);
        try (SocketClient onA = connected(cluster.a, user)) {
            JsonNode started = start(onA, "slow 12");
            String runId = started.path("run_id").asText();
            onA.await("partial_result");
            try (SocketClient onB = connected(cluster.b, user)) {
                onB.send("resume", payload("run_id", runId).put("last_seq", 1));
                List<JsonNode> frames = new ArrayList<>();
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (frames.stream().noneMatch(f -> f.path("type").asText().equals("agent_completed"))
                        && System.nanoTime() < deadline) {
                    frames.add(onB.next());
                }
                List<Long> runSeqs = frames.stream().filter(f -> runId.equals(f.path("run_id").asText(null)))
                        .map(f -> f.path("seq").asLong()).toList();
                // The contract lets live events reach the socket before its resume is handled; they are repeated
                // by the replay, which starts at seq 2 and goes on to the end once each, in order.
                int replay = runSeqs.indexOf(2L);
                assertThat(replay).as("the replay starts at seq 2: " + runSeqs).isNotNegative();
                List<Long> replayed = runSeqs.subList(replay, runSeqs.size());
                assertThat(replayed).as("seq 2..end once each, in order").isEqualTo(
                        java.util.stream.LongStream.rangeClosed(2, runSeqs.getLast()).boxed().toList());
                assertThat(replayed).as("live events before the resume").containsAll(runSeqs.subList(0, replay));
                assertThat(frames).anyMatch(f -> f.path("type").asText().equals("resumed"));
            }
        }
    }

    @Test
    void stopAgentOnTheOtherInstanceStopsTheRun() {
        TestUsers.User user = TestUsers.register(cluster.a);
        try (SocketClient onA = connected(cluster.a, user); SocketClient onB = connected(cluster.b, user)) {
            String runId = start(onA, "hang").path("run_id").asText();
            onB.await("partial_result");
            onB.send("stop_agent", payload("run_id", runId));
            List<JsonNode> seenOnB = onB.runEvents(runId);
            assertThat(seenOnB.getLast().path("type").asText()).isEqualTo("agent_completed");
            assertThat(seenOnB.getLast().path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(onA.runEvents(runId).getLast().path("data").path("status").asText()).isEqualTo("cancelled");
        }
    }

    @Test
    void cancelOverHttpOnTheOtherInstanceStopsTheRun() {
        TestUsers.User user = TestUsers.register(cluster.a);
        try (SocketClient onA = connected(cluster.a, user)) {
            String runId = start(onA, "hang").path("run_id").asText();
            onA.await("partial_result");
            TestApp.Response cancel = cluster.b.post("/api/runs/" + runId + "/cancel", "{}", user.accessToken());
            assertThat(cancel.status()).isEqualTo(202);
            assertThat(onA.runEvents(runId).getLast().path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(cluster.b.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText())
                    .isEqualTo("cancelled");
        }
    }

    @Test
    void deletingAThreadOnTheOtherInstanceStopsItsRunFirst() {
        TestUsers.User user = TestUsers.register(cluster.a);
        try (SocketClient onA = connected(cluster.a, user)) {
            JsonNode started = start(onA, "hang");
            String runId = started.path("run_id").asText();
            String threadId = started.path("data").path("thread_id").asText(started.path("thread_id").asText());
            assertThat(threadId).isNotEmpty();
            onA.await("partial_result");
            TestApp.Response deleted = cluster.b.delete("/api/threads/" + threadId, user.accessToken());
            assertThat(deleted.status()).isEqualTo(204);
            assertThat(onA.runEvents(runId).getLast().path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(cluster.b.get("/api/threads/" + threadId, user.accessToken()).status()).isEqualTo(404);
        }
    }

    @Test
    void theSocketLimitCountsSocketsOnEveryInstance() {
        TestUsers.User user = TestUsers.register(cluster.a);
        try (SocketClient a1 = connected(cluster.a, user); SocketClient b1 = connected(cluster.b, user);
             SocketClient a2 = connected(cluster.a, user)) {
            assertThat(refusedStatus(cluster.b, user)).isEqualTo(429);
            b1.close();
            dev.parley.server.testing.Await.until("b's slot is free", Duration.ofSeconds(10),
                    () -> refusedStatus(cluster.b, user) == 0);
        }
    }

    /** Opens a socket and closes it again; 0 when it opened, else the HTTP status of the refusal. */
    private static int refusedStatus(TestApp app, TestUsers.User user) {
        try (SocketClient socket = SocketClient.open(app, user.accessToken())) {
            socket.next();
            return 0;
        } catch (IllegalStateException e) {
            if (e.getCause() instanceof ParleySocket.HandshakeRefused refused) {
                return refused.status();
            }
            throw e;
        }
    }

    @Test
    void aTicketIssuedOnOneInstanceOpensOneSocketOnAnyInstanceOnce() {
        TestUsers.User user = TestUsers.register(cluster.a);
        TestApp.Response issued = cluster.a.post("/api/websocket/ticket", "{}", user.accessToken());
        assertThat(issued.status()).isEqualTo(201);
        String ticket = issued.json().path("ticket").asText();
        try (SocketClient onB = SocketClient.connect(cluster.b, "/ws?ticket=" + ticket, Map.of(), List.of())) {
            assertThat(onB.next().path("type").asText()).isEqualTo("connection_established");
        }
        Throwable refused = org.assertj.core.api.Assertions.catchThrowable(() ->
                SocketClient.connect(cluster.a, "/ws?ticket=" + ticket, Map.of(), List.of()));
        assertThat(refused).isNotNull();
        ParleySocket.HandshakeRefused handshake = (ParleySocket.HandshakeRefused) refused.getCause();
        assertThat(handshake.status()).isEqualTo(401);
        assertThat(Json.parse(handshake.body()).path("error").path("code").asText()).isEqualTo("invalid_token");
    }
}
