package dev.parley.server.scale;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A run streaming when PostgreSQL goes away (connections refused, or accepted and never answered) keeps its events
 * while the database is down and stores them, with the numbers they were given, once it is back: the run completes
 * with its whole answer stored, or, past what it may keep, ends with {@code agent_error} {@code upstream_unavailable}
 * and its partial answer stored. Either way the stored log holds every event the socket saw, with no gap and no
 * {@code seq} twice.
 */
class RunInFlightOutageTest {
    private static final Duration PAUSE = Duration.ofMillis(100);
    private static final int DELTAS = 60;
    /** How long the database stays away once readiness shows it: longer than the shortest lease (3 s). */
    private static final Duration DOWN = Duration.ofMillis(3500);
    /** PostgreSQL's CommandComplete tag for a commit, as it appears in the answer. */
    private static final byte[] COMMITTED = "COMMIT\0".getBytes(StandardCharsets.US_ASCII);

    /**
     * {@code commit answer lost}: the database goes away right after committing a batch of the run's events, before
     * its answer arrives; those events must be published, not written a second time.
     */
    @ParameterizedTest
    @ValueSource(strings = {"refused", "black-holed", "commit answer lost"})
    void aRunStreamingThroughAnOutageCompletesOnceTheDatabaseIsBack(String outage) {
        runThroughAnOutage(outage, new String[0], 1, (app, user, run) -> {
            JsonNode last = run.live().getLast();
            assertThat(last.path("type").asText()).as(run.live().toString()).isEqualTo("agent_completed");
            assertThat(last.path("data").path("status").asText()).isEqualTo("completed");
            String answer = deltas(run.seen());
            assertThat(answer).startsWith("w0 ").endsWith("w" + (DELTAS - 1) + " ");
            assertThat(last.path("data").path("final_response").asText()).isEqualTo(answer);
            assertThat(assistantMessage(app, user, run).path("content").asText()).isEqualTo(answer);
            assertThat(app.get("/api/runs/" + run.runId(), user.accessToken()).json().path("status").asText())
                    .isEqualTo("completed");
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"refused", "black-holed"})
    void aRunThatCannotKeepMoreEventsEndsAsUpstreamUnavailableWithItsPartialAnswerStored(String outage) {
        runThroughAnOutage(outage, new String[] {"PARLEY_RUN_OUTAGE_EVENTS", "5"}, 1, (app, user, run) -> {
            JsonNode last = run.live().getLast();
            assertThat(last.path("type").asText()).as(run.live().toString()).isEqualTo("agent_error");
            assertThat(last.path("data").path("error").path("code").asText()).isEqualTo("upstream_unavailable");
            assertThat(last.path("data").path("retryable").asBoolean()).isTrue();
            String partial = deltas(run.seen());
            assertThat(partial).startsWith("w0 ").doesNotContain("w" + (DELTAS - 1) + " ");
            JsonNode message = assistantMessage(app, user, run);
            assertThat(message.path("content").asText()).isEqualTo(partial);
            JsonNode stored = app.get("/api/runs/" + run.runId(), user.accessToken()).json();
            assertThat(stored.path("status").asText()).isEqualTo("failed");
            assertThat(stored.path("error_code").asText()).isEqualTo("upstream_unavailable");
            assertThat(stored.path("assistant_message_id").asText()).isEqualTo(message.path("id").asText());
        });
    }

    /**
     * An outage longer than the run lease: no instance could renew its leases meanwhile, so the other instance must not
     * take the run, whose instance is alive, for abandoned once the database is back (it would end it
     * {@code service_restart} and take the {@code seq} of the run's own next event).
     */
    @Test
    void anOutageLongerThanTheLeaseDoesNotEndTheRunOfALiveInstance() {
        runThroughAnOutage("refused", new String[] {"PARLEY_RUN_LEASE", "3s"}, 2, (app, user, run) -> {
            JsonNode last = run.live().getLast();
            assertThat(last.path("type").asText()).as(run.live().toString()).isEqualTo("agent_completed");
            assertThat(assistantMessage(app, user, run).path("content").asText()).isEqualTo(deltas(run.seen()));
        });
    }

    /** A run that streamed through an outage: what its socket received live after it, and everything it saw. */
    private record Outcome(String runId, String threadId, List<JsonNode> live, List<JsonNode> seen) {
    }

    @FunctionalInterface
    private interface Check {
        void check(TestApp app, TestUsers.User user, Outcome run);
    }

    /**
     * Starts a run of {@link #DELTAS} paced deltas on the first of {@code instances} servers with {@code env}, takes
     * the database away in the {@code outage} way once it streams, for longer than the shortest run lease, brings it
     * back, waits for the run's last event, checks that the stored log and the thread hold what the socket saw, then
     * hands the outcome to {@code check}.
     */
    private static void runThroughAnOutage(String outage, String[] env, int instances, Check check) {
        try (ProxiedPostgres database = ProxiedPostgres.start();
             TestApp app = TestApp.start(database.env(env), Clock.systemUTC(), new ScriptedAgent(PAUSE));
             TestApp other = instances > 1
                     ? TestApp.start(database.env(env), Clock.systemUTC(), new ScriptedAgent(PAUSE)) : null) {
            TestUsers.User user = TestUsers.register(app);
            try (SocketClient socket = connected(app, user)) {
                JsonNode started = Cluster.start(socket, "slow " + DELTAS);
                String runId = started.path("run_id").asText();
                throughAnOutage(app, database.proxy(), outage, socket);
                List<JsonNode> live = socket.runEvents(runId);
                Outcome run = new Outcome(runId, started.path("thread_id").asText(), live, seen(socket, runId));
                assertStoredAsSeen(app, user, runId, run.seen());
                if (other != null) {
                    assertThat(other.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText())
                            .isEqualTo(app.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText());
                }
                check.check(app, user, run);
            }
        }
    }

    /** The thread holds the request and one answer after it; returns the answer. */
    private static JsonNode assistantMessage(TestApp app, TestUsers.User user, Outcome run) {
        JsonNode messages = app.get("/api/threads/" + run.threadId() + "/messages", user.accessToken()).json()
                .path("messages");
        assertThat(messages).hasSize(2);
        assertThat(messages.get(0).path("content").asText()).isEqualTo("slow " + DELTAS);
        assertThat(messages.get(1).path("role").asText()).isEqualTo("assistant");
        assertThat(messages.get(1).path("run_id").asText()).isEqualTo(run.runId());
        return messages.get(1);
    }

    /**
     * Cuts the database once the run streams, waits until readiness shows it, keeps it away long enough for the run
     * to emit more while it is down, and brings it back.
     */
    private static void throughAnOutage(TestApp app, TcpProxy proxy, String outage, SocketClient socket) {
        socket.await("partial_result");
        switch (outage) {
            case "refused" -> proxy.cut();
            case "black-holed" -> proxy.blackHole();
            case "commit answer lost" -> proxy.cutOnAnswer(COMMITTED);
            default -> throw new IllegalArgumentException(outage);
        }
        Await.until("readiness turns 503", Duration.ofSeconds(2),
                () -> app.get("/health/ready", null).status() == 503);
        try {
            Thread.sleep(DOWN.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        proxy.restore();
    }

    /** Every event of the run the socket received, in the order it received them. */
    private static List<JsonNode> seen(SocketClient socket, String runId) {
        List<JsonNode> events = new ArrayList<>();
        for (JsonNode frame : socket.history()) {
            if (runId.equals(frame.path("run_id").asText(null)) && frame.has("seq")) {
                events.add(frame);
            }
        }
        return events;
    }

    private static String deltas(List<JsonNode> events) {
        StringBuilder text = new StringBuilder();
        events.stream().filter(event -> event.path("type").asText().equals("partial_result"))
                .forEach(event -> text.append(event.path("data").path("delta").asText()));
        return text.toString();
    }

    /** The socket saw seq 1, 2, ..., n once each, and the stored log holds exactly those events. */
    private static void assertStoredAsSeen(TestApp app, TestUsers.User user, String runId, List<JsonNode> seen) {
        List<Long> seenSeqs = seen.stream().map(event -> event.path("seq").asLong()).toList();
        assertThat(seenSeqs).containsExactlyElementsOf(LongStream.rangeClosed(1, seen.size()).boxed().toList());
        JsonNode stored = app.get("/api/runs/" + runId + "/events", user.accessToken()).json();
        assertThat(stored.path("complete").asBoolean()).isTrue();
        List<JsonNode> storedEvents = new ArrayList<>();
        stored.path("events").forEach(storedEvents::add);
        assertThat(storedEvents.stream().map(event -> event.path("seq").asLong()).toList())
                .containsExactlyElementsOf(seenSeqs);
        for (int i = 0; i < seen.size(); i++) {
            assertThat(storedEvents.get(i).path("type").asText()).isEqualTo(seen.get(i).path("type").asText());
            assertThat(storedEvents.get(i).path("data")).isEqualTo(seen.get(i).path("data"));
        }
    }
}
