package dev.parley.server.gateway;

import static dev.parley.server.gateway.RunEventsTest.payload;
import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Resume: replay after {@code last_seq}, then {@code resumed}, then live, with no gap and no duplicate at the seam. */
class ResumeTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_SHUTDOWN_GRACE", "0", "PARLEY_WS_RATE_LIMIT", "1000",
                "PARLEY_WS_RATE_BURST", "1000"), Clock.systemUTC(), new ScriptedAgent(Duration.ofMillis(2)));
    }

    private static ObjectNode resume(String runId, long lastSeq) {
        ObjectNode payload = Json.object();
        payload.put("run_id", runId);
        payload.put("last_seq", lastSeq);
        return payload;
    }

    /** The frames of one run received after a resume, up to the terminal event, plus the {@code resumed} frame. */
    private record Followed(List<Long> seqs, JsonNode resumed) {
    }

    private static Followed follow(SocketClient socket, String runId) {
        List<Long> seqs = new ArrayList<>();
        JsonNode resumed = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        boolean terminal = false;
        while (!(terminal && resumed != null)) {
            assertThat(System.nanoTime()).as("the run and the resume end in time").isLessThan(deadline);
            JsonNode frame = socket.next();
            String type = frame.path("type").asText();
            if (type.equals("resumed")) {
                resumed = frame;
            } else if (runId.equals(frame.path("run_id").asText(null))) {
                seqs.add(frame.path("seq").asLong());
                terminal |= EventType.isTerminal(type);
            }
        }
        return new Followed(seqs, resumed);
    }

    @Test
    void resumeAfterReconnectReplaysWhatWasMissedThenGoesOnLive() {
        TestUsers.User user = TestUsers.register(app);
        String runId;
        try (SocketClient first = connected(app, user)) {
            first.send("start_agent", payload("user_request", "endless"));
            runId = first.await("agent_started").path("run_id").asText();
            while (first.next().path("seq").asLong() < 4) {
                // read up to seq 4, then drop the socket mid-run
            }
        }
        try (SocketClient second = connected(app, user)) {
            second.send("resume", resume(runId, 4));
            JsonNode resumed = second.await("resumed");
            assertThat(resumed.path("data").path("run_id").asText()).isEqualTo(runId);
            assertThat(resumed.path("data").path("complete").asBoolean()).isFalse();
            assertThat(resumed.path("data").path("replayed").asInt()).isPositive();
            app.post("/api/runs/" + runId + "/cancel", "", user.accessToken());
            List<JsonNode> all = second.history();
            int resumedAt = indexOfType(all, "resumed");
            int count = resumed.path("data").path("replayed").asInt();
            List<JsonNode> rest = new ArrayList<>(second.runEvents(runId));
            // The replay is every event after last_seq, in order, right before 'resumed'.
            List<Long> ordered = seqsOf(all.subList(resumedAt - count, resumedAt), runId);
            assertThat(ordered.getFirst()).isEqualTo(5L);
            assertContiguous(ordered);
            assertThat(resumed.path("data").path("last_seq").asLong()).isEqualTo(ordered.getLast());
            // After 'resumed' the live events continue from the last replayed one, with no gap or duplicate.
            List<Long> after = rest.stream().map(e -> e.path("seq").asLong()).toList();
            assertThat(after.getFirst()).isEqualTo(ordered.getLast() + 1);
            assertContiguous(after);
            assertThat(rest.getLast().path("data").path("status").asText()).isEqualTo("cancelled");
        }
    }

    @Test
    void resumeOfAnEndedRunReplaysEverythingAndSaysComplete() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "deltas 4"));
            String runId = socket.await("agent_started").path("run_id").asText();
            List<JsonNode> live = socket.runEvents(runId);
            socket.send("resume", resume(runId, 0));
            Followed followed = follow(socket, runId);
            assertThat(followed.seqs()).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
            assertThat(followed.resumed().path("data").path("replayed").asInt()).isEqualTo(9);
            assertThat(followed.resumed().path("data").path("complete").asBoolean()).isTrue();
            List<JsonNode> history = socket.history();
            JsonNode replayedLast = history.get(indexOfType(history, "resumed") - 1);
            assertThat(replayedLast).isEqualTo(live.getLast());

            socket.send("resume", resume(runId, 7));
            JsonNode eight = socket.next();
            assertThat(eight.path("seq").asLong()).isEqualTo(8);
            assertThat(socket.next().path("seq").asLong()).isEqualTo(9);
            assertThat(socket.next().path("data").path("replayed").asInt()).isEqualTo(2);

            JsonNode overHttp = app.get("/api/runs/" + runId + "/events?after_seq=7", user.accessToken()).json();
            assertThat(overHttp.path("complete").asBoolean()).isTrue();
            assertThat(overHttp.path("events")).hasSize(2);
            assertThat(overHttp.path("events").get(0)).isEqualTo(eight);
        }
    }

    @Test
    void resumeFailsForUnknownAndForeignRuns() {
        TestUsers.User owner = TestUsers.register(app);
        TestUsers.User other = TestUsers.register(app);
        String runId;
        try (SocketClient socket = connected(app, owner)) {
            socket.send("start_agent", payload("user_request", "deltas 1"));
            runId = socket.await("agent_started").path("run_id").asText();
            socket.runEvents(runId);
        }
        try (SocketClient socket = connected(app, other)) {
            socket.send("resume", resume(runId, 0));
            JsonNode failed = socket.next();
            assertThat(failed.path("type").asText()).isEqualTo("resume_failed");
            assertThat(failed.path("data").path("run_id").asText()).isEqualTo(runId);
            assertThat(failed.path("data").path("reason").asText()).isEqualTo("run_not_found");
            socket.send("resume", resume("no-such-run", 0));
            JsonNode unknown = socket.next();
            assertThat(unknown.path("type").asText()).isEqualTo("resume_failed");
            assertThat(unknown.path("data").path("reason").asText()).isEqualTo("run_not_found");
        }
    }

    /**
     * The race the seam must survive: a run that never stops emitting while sockets connect and resume from random
     * points. Each socket must end up with every event after its {@code last_seq} exactly once past the seam.
     */
    @Test
    void manyResumesDuringAnEndlessRunSeeNoGapAndNoDuplicateAtTheSeam() throws Exception {
        TestUsers.User user = TestUsers.register(app);
        String runId;
        SocketClient starter = connected(app, user);
        starter.send("start_agent", payload("user_request", "endless"));
        runId = starter.await("agent_started").path("run_id").asText();
        while (starter.next().path("seq").asLong() < 20) {
            // let the log grow
        }
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<SocketClient> sockets = new ArrayList<>();
        List<Long> lastSeqs = new ArrayList<>();
        List<Future<?>> resumes = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                SocketClient socket = connected(app, user);
                sockets.add(socket);
                long lastSeq = ThreadLocalRandom.current().nextLong(0, 20);
                lastSeqs.add(lastSeq);
                resumes.add(pool.submit(() -> socket.send("resume", resume(runId, lastSeq))));
            }
            for (Future<?> resume : resumes) {
                resume.get(10, TimeUnit.SECONDS);
            }
            for (SocketClient socket : sockets) {
                socket.await("resumed");
            }
            assertThat(app.post("/api/runs/" + runId + "/cancel", "", user.accessToken()).status()).isEqualTo(202);
            for (int i = 0; i < sockets.size(); i++) {
                SocketClient socket = sockets.get(i);
                socket.runEvents(runId);
                List<JsonNode> frames = socket.history();
                int seam = indexOfType(frames, "resumed");
                JsonNode resumed = frames.get(seam).path("data");
                long lastSeq = lastSeqs.get(i);
                long last = resumed.path("last_seq").asLong();
                int replayedCount = resumed.path("replayed").asInt();
                // The replay is exactly the events after last_seq, in order, right before 'resumed'.
                List<Long> replayed = seqsOf(frames.subList(seam - replayedCount, seam), runId);
                assertThat(replayed).hasSize(replayedCount);
                for (int k = 0; k < replayed.size(); k++) {
                    assertThat(replayed.get(k)).as("socket %d replay %s", i, replayed).isEqualTo(lastSeq + 1 + k);
                }
                assertThat(last).isEqualTo(lastSeq + replayedCount);
                // Past the seam: the very next event, then every one after it once, up to the run's last.
                List<Long> afterSeam = seqsOf(frames.subList(seam + 1, frames.size()), runId);
                assertThat(afterSeam).as("socket %d after the seam", i).isNotEmpty();
                assertThat(afterSeam.getFirst()).as("socket %d continues after %d: %s", i, last, afterSeam)
                        .isEqualTo(last + 1);
                assertContiguous(afterSeam);
            }
        } finally {
            pool.shutdownNow();
            sockets.forEach(SocketClient::close);
            starter.close();
        }
    }

    private static int indexOfType(List<JsonNode> frames, String type) {
        for (int i = 0; i < frames.size(); i++) {
            if (frames.get(i).path("type").asText().equals(type)) {
                return i;
            }
        }
        throw new AssertionError("no " + type + " in " + frames);
    }

    private static List<Long> seqsOf(List<JsonNode> frames, String runId) {
        return frames.stream().filter(f -> runId.equals(f.path("run_id").asText(null)))
                .map(f -> f.path("seq").asLong()).toList();
    }

    private static void assertContiguous(List<Long> seqs) {
        for (int i = 1; i < seqs.size(); i++) {
            assertThat(seqs.get(i)).as("seq after %d in %s", seqs.get(i - 1), seqs).isEqualTo(seqs.get(i - 1) + 1);
        }
    }
}
