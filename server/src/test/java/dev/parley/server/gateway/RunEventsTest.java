package dev.parley.server.gateway;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.run.RunService;
import dev.parley.server.testing.Await;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/** Runs over the socket: the event sequence, the message aliases, stop, one run per thread, failures. */
class RunEventsTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_MAX_USER_REQUEST_CHARS", "500", "PARLEY_SHUTDOWN_GRACE", "0"),
                Clock.systemUTC(), new ScriptedAgent(Duration.ofMillis(30)));
    }

    static ObjectNode payload(String... pairs) {
        ObjectNode payload = Json.object();
        for (int i = 0; i < pairs.length; i += 2) {
            payload.put(pairs[i], pairs[i + 1]);
        }
        return payload;
    }

    @Test
    void startAgentStreamsTheRunInOrderWithGaplessSeq() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "deltas 3"), "m-1");
            JsonNode started = socket.await("agent_started");
            String runId = started.path("run_id").asText();
            String threadId = started.path("thread_id").asText();
            List<JsonNode> events = new java.util.ArrayList<>(List.of(started));
            events.addAll(socket.runEvents(runId));

            assertThat(events).extracting(e -> e.path("type").asText()).containsExactly("agent_started",
                    "agent_thinking", "tool_executing", "tool_completed", "partial_result", "partial_result",
                    "partial_result", "agent_completed");
            for (int i = 0; i < events.size(); i++) {
                JsonNode event = events.get(i);
                assertThat(event.path("seq").asLong()).isEqualTo(i + 1);
                assertThat(event.path("run_id").asText()).isEqualTo(runId);
                assertThat(event.path("thread_id").asText()).isEqualTo(threadId);
                assertThat(event.path("agent_name").asText()).isNotBlank();
                assertThat(event.has("payload")).as("no payload mirror by default").isFalse();
            }
            assertThat(started.path("data").path("user_request").asText()).isEqualTo("deltas 3");
            String userMessageId = started.path("data").path("message_id").asText();
            assertThat(events.get(1).path("data").path("reasoning").asText()).isNotBlank();
            assertThat(events.get(2).path("data").path("tool_name").asText()).isEqualTo("lookup");
            assertThat(events.get(3).path("data").path("status").asText()).isEqualTo("success");
            JsonNode completed = events.getLast().path("data");
            assertThat(completed.path("status").asText()).isEqualTo("completed");
            assertThat(completed.path("final_response").asText()).isEqualTo("w0 w1 w2 ");
            assertThat(completed.path("usage").path("input_tokens").asLong()).isEqualTo(12);
            assertThat(completed.path("usage").path("output_tokens").asLong()).isEqualTo(34);
            assertThat(completed.path("usage").path("cost_usd").decimalValue()).isEqualByComparingTo("0.0005");
            assertThat(completed.path("execution_time_ms").isIntegralNumber()).isTrue();
            String assistantMessageId = completed.path("message_id").asText();

            JsonNode messages = app.get("/api/threads/" + threadId + "/messages", user.accessToken()).json().path("messages");
            assertThat(messages).hasSize(2);
            assertThat(messages.get(0).path("id").asText()).isEqualTo(userMessageId);
            assertThat(messages.get(0).path("role").asText()).isEqualTo("user");
            assertThat(messages.get(0).path("run_id").asText()).isEqualTo(runId);
            assertThat(messages.get(1).path("id").asText()).isEqualTo(assistantMessageId);
            assertThat(messages.get(1).path("role").asText()).isEqualTo("assistant");
            assertThat(messages.get(1).path("content").asText()).isEqualTo("w0 w1 w2 ");
            JsonNode thread = app.get("/api/threads/" + threadId, user.accessToken()).json();
            assertThat(thread.path("title").asText()).isEqualTo("deltas 3");
            assertThat(thread.path("message_count").asInt()).isEqualTo(2);

            JsonNode run = app.get("/api/runs/" + runId, user.accessToken()).json();
            assertThat(run.path("status").asText()).isEqualTo("completed");
            assertThat(run.path("thread_id").asText()).isEqualTo(threadId);
            assertThat(run.path("finished_at").asText()).isNotBlank();
            assertThat(run.path("usage").path("output_tokens").asLong()).isEqualTo(34);
        }
    }

    @Test
    void aServerConfiguredForOlderReadersMirrorsDataAsPayloadInEveryFrame() {
        try (TestApp mirroring = TestApp.start(Map.of("PARLEY_WS_PAYLOAD_MIRROR", "true"), Clock.systemUTC(),
                new ScriptedAgent(Duration.ofMillis(30)))) {
            TestUsers.User user = TestUsers.register(mirroring);
            List<JsonNode> frames = new ArrayList<>();
            String runId;
            try (SocketClient socket = SocketClient.open(mirroring, user.accessToken())) {
                frames.add(socket.next());
                socket.send("start_agent", payload("user_request", "deltas 2"), "m-1");
                JsonNode started = socket.await("agent_started");
                runId = started.path("run_id").asText();
                frames.add(started);
                frames.addAll(socket.runEvents(runId));
            }
            try (SocketClient socket = SocketClient.open(mirroring, user.accessToken())) {
                frames.add(socket.next());
                socket.send("resume", Json.object().put("run_id", runId).put("last_seq", 0), "r-1");
                frames.addAll(socket.runEvents(runId));
                frames.add(socket.await("resumed"));
            }
            assertThat(frames).extracting(frame -> frame.path("type").asText()).contains("connection_established",
                    "agent_started", "partial_result", "agent_completed", "resumed");
            for (JsonNode frame : frames) {
                assertThat(frame.path("payload")).as(frame.path("type").asText()).isEqualTo(frame.path("data"));
            }
        }
    }

    @Test
    void everyAliasStartsARunAndMissingPayloadReadsTheWholeObject() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("{\"type\":\"execute_agent\",\"payload\":{\"user_request\":\"first words of a thread\"}}");
            JsonNode first = socket.await("agent_started");
            String threadId = first.path("thread_id").asText();
            socket.runEvents(first.path("run_id").asText());
            for (String alias : List.of("user_message", "chat_message", "message")) {
                socket.send(alias, payload("content", "via " + alias, "thread_id", threadId));
                JsonNode started = socket.await("agent_started");
                assertThat(started.path("thread_id").asText()).isEqualTo(threadId);
                assertThat(started.path("data").path("user_request").asText()).isEqualTo("via " + alias);
                socket.runEvents(started.path("run_id").asText());
            }
            socket.send("{\"type\":\"start_agent\",\"user_request\":\"no payload here\",\"thread_id\":\"" + threadId + "\"}");
            JsonNode compat = socket.await("agent_started");
            assertThat(compat.path("data").path("user_request").asText()).isEqualTo("no payload here");
            socket.runEvents(compat.path("run_id").asText());
        }
        JsonNode threads = app.get("/api/threads", user.accessToken()).json();
        assertThat(threads.path("total").asInt()).isEqualTo(1);
        assertThat(threads.path("threads").get(0).path("title").asText()).isEqualTo("first words of a thread");
        assertThat(threads.path("threads").get(0).path("message_count").asInt()).isEqualTo(10);
    }

    @Test
    void everySocketOfTheUserReceivesEachEventOnce() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient one = connected(app, user); SocketClient two = connected(app, user)) {
            one.send("start_agent", payload("user_request", "deltas 5"));
            String runId = one.await("agent_started").path("run_id").asText();
            List<JsonNode> seenByOne = one.runEvents(runId);
            JsonNode startedOnTwo = two.await("agent_started");
            List<JsonNode> seenByTwo = new java.util.ArrayList<>(List.of(startedOnTwo));
            seenByTwo.addAll(two.runEvents(runId));
            assertThat(seenByTwo).extracting(e -> e.path("seq").asLong())
                    .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
            assertThat(seenByOne).extracting(e -> e.path("seq").asLong())
                    .containsExactly(2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
        }
    }

    @Test
    void secondMessageOnABusyThreadIsRunInProgressAndStopStoresThePartialAnswer() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "hang"));
            JsonNode started = socket.await("agent_started");
            String runId = started.path("run_id").asText();
            String threadId = started.path("thread_id").asText();
            // Wait until the agent has streamed its two deltas and is waiting.
            socket.await("partial_result");
            socket.await("partial_result");

            socket.send("user_message", payload("content", "again", "thread_id", threadId), "busy-1");
            JsonNode refused = socket.await("error");
            assertThat(refused.path("data").path("error").path("code").asText()).isEqualTo("run_in_progress");
            assertThat(refused.path("data").path("in_reply_to").asText()).isEqualTo("busy-1");

            long stopAt = System.nanoTime();
            socket.send("stop_agent", payload("run_id", runId));
            JsonNode completed = socket.await("agent_completed");
            assertThat(Duration.ofNanos(System.nanoTime() - stopAt)).isLessThan(Duration.ofSeconds(1));
            assertThat(completed.path("run_id").asText()).isEqualTo(runId);
            assertThat(completed.path("data").path("status").asText()).isEqualTo("cancelled");
            assertThat(completed.path("data").path("final_response").asText()).isEqualTo("partial answer ");
            String messageId = completed.path("data").path("message_id").asText();

            JsonNode messages = app.get("/api/threads/" + threadId + "/messages", user.accessToken()).json().path("messages");
            assertThat(messages.get(1).path("id").asText()).isEqualTo(messageId);
            assertThat(messages.get(1).path("content").asText()).isEqualTo("partial answer ");
            assertThat(app.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText()).isEqualTo("cancelled");

            socket.send("stop_agent", payload("run_id", runId), "stop-2");
            JsonNode finished = socket.await("error");
            assertThat(finished.path("data").path("error").path("code").asText()).isEqualTo("run_finished");
            assertThat(finished.path("data").path("in_reply_to").asText()).isEqualTo("stop-2");

            // The thread is free again.
            socket.send("user_message", payload("content", "deltas 1", "thread_id", threadId));
            JsonNode next = socket.await("agent_started");
            assertThat(socket.runEvents(next.path("run_id").asText()).getLast().path("type").asText())
                    .isEqualTo("agent_completed");
        }
    }

    @Test
    void stopDuringAToolCompletesTheToolCallAsCancelledBeforeTheRunEnds() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "hang-in-tool"));
            JsonNode started = socket.await("agent_started");
            String runId = started.path("run_id").asText();
            List<JsonNode> events = new ArrayList<>(List.of(started));
            do {
                events.add(socket.next());
            } while (!events.getLast().path("type").asText().equals("tool_executing"));

            socket.send("stop_agent", payload("run_id", runId));
            events.addAll(socket.runEvents(runId));

            List<String> types = events.stream().map(event -> event.path("type").asText()).toList();
            assertThat(types).endsWith("tool_executing", "tool_completed", "agent_completed");
            JsonNode completed = events.get(events.size() - 2).path("data");
            assertThat(completed.path("tool_call_id").asText()).isEqualTo("call-hung");
            assertThat(completed.path("status").asText()).isEqualTo("error");
            assertThat(completed.path("result").path("error").asText()).isEqualTo("cancelled");
            assertThat(events.getLast().path("data").path("status").asText()).isEqualTo("cancelled");
            for (int i = 0; i < events.size(); i++) {
                assertThat(events.get(i).path("seq").asLong()).isEqualTo(i + 1);
            }
        }
    }

    @Test
    void stopOfAnUnknownRunIsRunNotFound() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("stop_agent", payload("run_id", "no-such-run"));
            assertThat(socket.await("error").path("data").path("error").path("code").asText()).isEqualTo("run_not_found");
        }
    }

    @Test
    void cancelOverHttpIs202Then409AndUnknownIs404() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "hang"));
            String runId = socket.await("agent_started").path("run_id").asText();
            TestApp.Response cancel = app.post("/api/runs/" + runId + "/cancel", "", user.accessToken());
            assertThat(cancel.status()).isEqualTo(202);
            JsonNode completed = socket.await("agent_completed");
            assertThat(completed.path("data").path("status").asText()).isEqualTo("cancelled");
            TestApp.Response again = app.post("/api/runs/" + runId + "/cancel", "", user.accessToken());
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.json().path("error").path("code").asText()).isEqualTo("run_finished");
        }
        TestApp.Response unknown = app.post("/api/runs/nope/cancel", "", user.accessToken());
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().path("error").path("code").asText()).isEqualTo("run_not_found");
    }

    @Test
    void agentFailuresEndWithAgentErrorAndTheSocketStaysOpen() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "fail"));
            JsonNode failed = socket.await("agent_error");
            assertThat(failed.path("data").path("error").path("code").asText()).isEqualTo("tool_failed");
            assertThat(failed.path("data").path("error").path("message").asText()).isNotBlank();
            assertThat(failed.path("data").path("retryable").asBoolean()).isFalse();
            assertThat(app.get("/api/runs/" + failed.path("run_id").asText(), user.accessToken()).json()
                    .path("status").asText()).isEqualTo("failed");

            JsonNode crashed;
            Logger runLog = (Logger) LoggerFactory.getLogger(RunService.class);
            ListAppender<ILoggingEvent> logged = new ListAppender<>();
            logged.start();
            runLog.addAppender(logged);
            try {
                socket.send("start_agent", payload("user_request", "crash"));
                crashed = socket.await("agent_error");
            } finally {
                runLog.detachAppender(logged);
            }
            assertThat(crashed.path("data").path("error").path("code").asText()).isEqualTo("internal");
            assertThat(crashed.path("data").path("retryable").asBoolean()).isTrue();
            String requestId = crashed.path("data").path("error").path("request_id").asText();
            assertThat(requestId).matches("[0-9a-f]{16}");
            String runId = crashed.path("run_id").asText();
            assertThat(crashed.path("data").path("error").path("message").asText()).doesNotContain("scripted crash");
            assertThat(List.copyOf(logged.list)).as("the log line that the answer's request id names")
                    .anySatisfy(line -> {
                        assertThat(line.getLevel()).isEqualTo(Level.ERROR);
                        assertThat(line.getFormattedMessage())
                                .isEqualTo("Run " + runId + " failed [request_id=" + requestId + "]");
                        assertThat(line.getThrowableProxy().getMessage()).isEqualTo("scripted crash");
                    });

            socket.send("ping", null);
            assertThat(socket.await("pong").path("type").asText()).isEqualTo("pong");
        }
    }

    @Test
    void requestOverTheConfiguredLimitIsMessageTooLarge() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "x".repeat(501)), "big");
            JsonNode refused = socket.await("error");
            assertThat(refused.path("data").path("error").path("code").asText()).isEqualTo("message_too_large");
            assertThat(refused.path("data").path("in_reply_to").asText()).isEqualTo("big");
            socket.send("start_agent", payload("user_request", "x".repeat(500)));
            assertThat(socket.await("agent_started").path("data").path("user_request").asText()).hasSize(500);
        }
    }

    @Test
    void aRunKeepsGoingWhenItsSocketCloses() {
        TestUsers.User user = TestUsers.register(app);
        String runId;
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "slow 10"));
            runId = socket.await("agent_started").path("run_id").asText();
        }
        Await.value("the run completes", Duration.ofSeconds(10),
                () -> app.get("/api/runs/" + runId, user.accessToken()).json().path("status").asText(), "completed");
        JsonNode log = app.get("/api/runs/" + runId + "/events", user.accessToken()).json();
        assertThat(log.path("complete").asBoolean()).isTrue();
        assertThat(log.path("events")).hasSize(15);
        assertThat(log.path("events").get(14).path("data").path("final_response").asText()).startsWith("w0 w1");
    }

    @Test
    void startOnSomeoneElsesOrAnUnknownThreadIsThreadNotFound() {
        TestUsers.User user = TestUsers.register(app);
        try (SocketClient socket = connected(app, user)) {
            socket.send("start_agent", payload("user_request", "hello", "thread_id", "no-such-thread"), "t1");
            JsonNode refused = socket.await("error");
            assertThat(refused.path("data").path("error").path("code").asText()).isEqualTo("thread_not_found");
            assertThat(refused.path("data").path("in_reply_to").asText()).isEqualTo("t1");
        }
    }
}
