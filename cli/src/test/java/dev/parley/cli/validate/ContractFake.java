package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.protocol.ServerEvent;
import io.helidon.common.uri.UriQuery;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.http.Headers;
import io.helidon.http.HttpPrologue;
import io.helidon.http.WritableHeaders;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.websocket.WsRouting;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;
import io.helidon.websocket.WsUpgradeException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A CONTRACT FAKE, NOT THE PRODUCT: a small in-memory server that speaks just enough of docs/protocol.md for the
 * validator to run every check against it, with one switch per deliberate defect. The validator's tests use it to
 * show that a correct server passes every check and that each defect fails exactly the checks meant to catch it.
 * The real server is validated by the integration test after the branches are merged.
 *
 * <p>Its "agent" answers every question with the same scripted run (thinking, one tool call, two partial results,
 * the answer), pausing {@code stepDelay} between steps as PARLEY_AGENT_STEP_DELAY makes the real one do; a stop wakes
 * it at once. Tokens are opaque random strings, not JWTs: the validator treats them as opaque.
 */
final class ContractFake implements AutoCloseable {
    /** The deliberate defects; {@link #NONE} behaves as the contract says. */
    enum Defect {
        NONE,
        /** Each run's seq 2 is delivered after seq 3 (the log keeps the right order). */
        EVENTS_OUT_OF_ORDER,
        /** Numbering skips seq 3: 1, 2, 4, 5, … */
        SEQ_GAP,
        /** Events after agent_started carry no seq. */
        MISSING_SEQ,
        /** Every run event goes to every open socket, whoever's it is. */
        LEAKS_EVENTS_TO_OTHER_USERS,
        /** The socket accepts an upgrade without (or with bad) credentials, as an anonymous user. */
        NO_SOCKET_AUTH,
        /** HTTP works; /ws is not served at all (404). */
        DEAD_SOCKET_ENDPOINT,
        /** stop_agent is accepted and nothing else happens: the run goes on to completion. */
        IGNORES_STOP
    }

    private static final HeaderName WS_PROTOCOL = HeaderNames.create("Sec-WebSocket-Protocol");
    private static final String FINAL_RESPONSE = "Your AI spend last month was $42.00; moving summaries to a "
            + "smaller model would save about $9.";
    private static final List<String> DELTAS = List.of("Your AI spend last month was $42.00; ",
            "moving summaries to a smaller model would save about $9.");

    private final Defect defect;
    private final Duration stepDelay;
    private final WebServer server;

    private final Map<String, User> usersByEmail = new ConcurrentHashMap<>();
    private final Map<String, String> userIdByToken = new ConcurrentHashMap<>();
    private final Map<String, String> userIdByTicket = new ConcurrentHashMap<>();
    private final Map<String, Conversation> threads = new ConcurrentHashMap<>();
    private final Map<String, Run> runs = new ConcurrentHashMap<>();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();

    private record User(String id, String email, String password, String name, Instant createdAt) {
    }

    private record Message(String id, String role, String content, String runId, Instant createdAt) {
    }

    private static final class Conversation {
        final String id;
        final String ownerId;
        final String title;
        final Instant createdAt;
        final List<Message> messages = new CopyOnWriteArrayList<>();
        volatile Run active;

        Conversation(String id, String ownerId, String title, Instant createdAt) {
            this.id = id;
            this.ownerId = ownerId;
            this.title = title;
            this.createdAt = createdAt;
        }
    }

    /** A run; its lock orders emission and replay, so that a resume never interleaves with live events. */
    private static final class Run {
        final String id;
        final Conversation thread;
        final String ownerId;
        final Instant startedAt = Instant.now();
        final ReentrantLock lock = new ReentrantLock();
        final Condition woken = lock.newCondition();
        final List<ObjectNode> log = new ArrayList<>();
        long seq;
        ObjectNode heldBack;
        boolean cancelRequested;
        volatile String status = "running";
        volatile Instant finishedAt;

        Run(String id, Conversation thread, String ownerId) {
            this.id = id;
            this.thread = thread;
            this.ownerId = ownerId;
        }
    }

    private ContractFake(Defect defect, Duration stepDelay) {
        this.defect = defect;
        this.stepDelay = stepDelay;
        HttpRouting.Builder routing = HttpRouting.builder()
                .addFilter(this::refuseBadUpgrades)
                .get("/health", (req, res) -> json(res, 200, health()))
                .get("/api/health", (req, res) -> json(res, 200, health()))
                .get("/health/ready", (req, res) -> json(res, 200, ready()))
                .post("/auth/register", this::register)
                .post("/auth/login", this::login)
                .get("/auth/me", this::me)
                .post("/api/websocket/ticket", this::ticket)
                .post("/api/usage/sample", (req, res) -> {
                    requireUser(req, res).ifPresent(user -> json(res, 201, Json.object().put("accepted", 30)));
                })
                .get("/api/threads", this::listThreads)
                .post("/api/threads", this::createThread)
                .get("/api/threads/{id}/messages", this::messages)
                .get("/api/threads/{id}", this::thread)
                .get("/api/runs/{id}/events", this::runEvents)
                .get("/api/runs/{id}", this::run);
        WebServerConfig.Builder builder = WebServer.builder().port(0).host("127.0.0.1").shutdownGracePeriod(Duration.ZERO)
                .routing(routing);
        if (defect != Defect.DEAD_SOCKET_ENDPOINT) {
            builder.addRouting(WsRouting.builder().endpoint("/ws", () -> new Connection()));
        }
        this.server = builder.build().start();
    }

    static ContractFake start(Defect defect, Duration stepDelay) {
        return new ContractFake(defect, stepDelay);
    }

    URI base() {
        return URI.create("http://127.0.0.1:" + server.port());
    }

    @Override
    public void close() {
        for (Run run : runs.values()) {
            run.lock.lock();
            try {
                run.cancelRequested = true;
                run.woken.signalAll();
            } finally {
                run.lock.unlock();
            }
        }
        server.stop();
    }

    // ---- HTTP

    private static ObjectNode health() {
        return Json.object().put("status", "healthy").put("service", "parley-contract-fake").put("version", "0.0.0-fake")
                .put("revision", "fake").put("timestamp", ServerEvent.formatTimestamp(Instant.now()));
    }

    private static ObjectNode ready() {
        ObjectNode body = Json.object().put("status", "ready");
        body.putObject("checks").put("database", "up").put("fanout", "local").put("llm", "offline");
        return body;
    }

    private void register(ServerRequest req, ServerResponse res) {
        JsonNode body = body(req);
        String email = body.path("email").asText("");
        String password = body.path("password").asText("");
        if (!email.contains("@")) {
            error(res, 400, "invalid_email", "The email address is not valid.");
            return;
        }
        if (password.length() < 8) {
            error(res, 400, "weak_password", "The password is too weak.");
            return;
        }
        User user = new User(UUID.randomUUID().toString(), email, password, body.path("name").asText(null), Instant.now());
        if (usersByEmail.putIfAbsent(email, user) != null) {
            error(res, 409, "email_taken", "An account with this email already exists.");
            return;
        }
        json(res, 201, tokenPair(user));
    }

    private void login(ServerRequest req, ServerResponse res) {
        JsonNode body = body(req);
        User user = usersByEmail.get(body.path("email").asText(""));
        if (user == null || !user.password().equals(body.path("password").asText(""))) {
            error(res, 401, "invalid_credentials", "The email or password is wrong.");
            return;
        }
        json(res, 200, tokenPair(user));
    }

    private ObjectNode tokenPair(User user) {
        String access = "fake-access-" + UUID.randomUUID();
        userIdByToken.put(access, user.id());
        ObjectNode pair = Json.object().put("access_token", access).put("refresh_token", "fake-refresh-" + UUID.randomUUID())
                .put("token_type", "Bearer").put("expires_in", 900);
        pair.putObject("user").put("id", user.id()).put("email", user.email()).put("name", user.name());
        return pair;
    }

    private void me(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> json(res, 200, Json.object().put("id", user.id())
                .put("email", user.email()).put("name", user.name())
                .put("created_at", ServerEvent.formatTimestamp(user.createdAt()))));
    }

    private void ticket(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> {
            String ticket = "fake-ticket-" + UUID.randomUUID();
            userIdByTicket.put(ticket, user.id());
            json(res, 201, Json.object().put("ticket", ticket)
                    .put("expires_at", ServerEvent.formatTimestamp(Instant.now().plusSeconds(60)))
                    .put("websocket_url", "ws://127.0.0.1:" + server.port() + "/ws?ticket=" + ticket));
        });
    }

    private void listThreads(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> {
            ObjectNode body = Json.object();
            ArrayNode list = body.putArray("threads");
            threads.values().stream().filter(t -> t.ownerId.equals(user.id()))
                    .forEach(t -> list.add(threadJson(t)));
            body.put("total", list.size());
            json(res, 200, body);
        });
    }

    private void createThread(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> {
            Conversation thread = newThread(user.id(), body(req).path("title").asText("New thread"));
            json(res, 201, threadJson(thread));
        });
    }

    private void thread(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> ownThread(user, req.path().pathParameters().get("id"))
                .ifPresentOrElse(t -> json(res, 200, threadJson(t)), () -> notFound(res)));
    }

    private void messages(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> ownThread(user, req.path().pathParameters().get("id"))
                .ifPresentOrElse(t -> {
                    ObjectNode body = Json.object();
                    ArrayNode list = body.putArray("messages");
                    for (Message m : t.messages) {
                        list.addObject().put("id", m.id()).put("role", m.role()).put("content", m.content())
                                .put("run_id", m.runId()).put("created_at", ServerEvent.formatTimestamp(m.createdAt()));
                    }
                    json(res, 200, body);
                }, () -> notFound(res)));
    }

    private void run(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> ownRun(user, req.path().pathParameters().get("id"))
                .ifPresentOrElse(run -> {
                    ObjectNode body = Json.object().put("id", run.id).put("thread_id", run.thread.id)
                            .put("status", run.status).put("started_at", ServerEvent.formatTimestamp(run.startedAt))
                            .put("finished_at", run.finishedAt == null ? null : ServerEvent.formatTimestamp(run.finishedAt));
                    body.putObject("usage").put("input_tokens", 120).put("output_tokens", 40).put("cost_usd", 0.0);
                    json(res, 200, body);
                }, () -> notFound(res)));
    }

    private void runEvents(ServerRequest req, ServerResponse res) {
        requireUser(req, res).ifPresent(user -> ownRun(user, req.path().pathParameters().get("id"))
                .ifPresentOrElse(run -> {
                    long after = req.query().first("after_seq").asOptional().map(Long::parseLong).orElse(0L);
                    ObjectNode body = Json.object();
                    ArrayNode list = body.putArray("events");
                    run.lock.lock();
                    try {
                        for (ObjectNode event : run.log) {
                            if (event.path("seq").asLong(Long.MAX_VALUE) > after) {
                                list.add(event);
                            }
                        }
                    } finally {
                        run.lock.unlock();
                    }
                    body.put("complete", !run.status.equals("running"));
                    json(res, 200, body);
                }, () -> notFound(res)));
    }

    private Optional<Conversation> ownThread(User user, String id) {
        return Optional.ofNullable(threads.get(id)).filter(t -> t.ownerId.equals(user.id()));
    }

    private Optional<Run> ownRun(User user, String id) {
        return Optional.ofNullable(runs.get(id)).filter(r -> r.ownerId.equals(user.id()));
    }

    private Conversation newThread(String ownerId, String title) {
        Conversation thread = new Conversation(UUID.randomUUID().toString(), ownerId, title, Instant.now());
        threads.put(thread.id, thread);
        return thread;
    }

    private static ObjectNode threadJson(Conversation t) {
        return Json.object().put("id", t.id).put("title", t.title)
                .put("created_at", ServerEvent.formatTimestamp(t.createdAt))
                .put("updated_at", ServerEvent.formatTimestamp(t.createdAt)).put("message_count", t.messages.size());
    }

    private Optional<User> requireUser(ServerRequest req, ServerResponse res) {
        Optional<User> user = req.headers().first(HeaderNames.AUTHORIZATION)
                .filter(h -> h.startsWith("Bearer "))
                .map(h -> userIdByToken.get(h.substring(7)))
                .flatMap(this::userById);
        if (user.isEmpty()) {
            error(res, 401, "unauthorized", "Authentication is required.");
        }
        return user;
    }

    private Optional<User> userById(String id) {
        return usersByEmail.values().stream().filter(u -> u.id().equals(id)).findFirst();
    }

    private static JsonNode body(ServerRequest req) {
        String text = req.content().hasEntity() ? req.content().as(String.class) : "";
        try {
            return text.isBlank() ? Json.object() : Json.parse(text);
        } catch (ProtocolException e) {
            return Json.object();
        }
    }

    private static void json(ServerResponse res, int status, ObjectNode body) {
        res.status(status);
        res.header(HeaderNames.CONTENT_TYPE, "application/json");
        res.send(Json.write(body).getBytes(StandardCharsets.UTF_8));
    }

    private static void notFound(ServerResponse res) {
        error(res, 404, "not_found", "Not found.");
    }

    private static void error(ServerResponse res, int status, String code, String message) {
        ObjectNode body = Json.object();
        body.putObject("error").put("code", code).put("message", message).put("request_id", UUID.randomUUID().toString());
        json(res, status, body);
    }

    // ---- the socket's credentials, checked before the upgrade

    /** Who an upgrade request authenticates as; empty when it presents no valid credentials. */
    private Optional<String> upgradeUser(Headers headers, UriQuery query, boolean consumeTicket) {
        Optional<String> authorization = headers.first(HeaderNames.AUTHORIZATION);
        if (authorization.isPresent()) {
            String value = authorization.get();
            return value.startsWith("Bearer ") ? Optional.ofNullable(userIdByToken.get(value.substring(7)))
                    : Optional.empty();
        }
        Optional<String> offered = headers.first(WS_PROTOCOL);
        if (offered.isPresent()) {
            for (String entry : offered.get().split(",")) {
                String item = entry.trim();
                if (item.startsWith("jwt.")) {
                    String token = new String(Base64.getUrlDecoder().decode(item.substring(4)), StandardCharsets.UTF_8);
                    return Optional.ofNullable(userIdByToken.get(token));
                }
            }
        }
        Optional<String> ticket = query.first("ticket").asOptional();
        if (ticket.isPresent()) {
            return Optional.ofNullable(consumeTicket ? userIdByTicket.remove(ticket.get()) : userIdByTicket.get(ticket.get()));
        }
        return Optional.empty();
    }

    private void refuseBadUpgrades(FilterChain chain, RoutingRequest req, RoutingResponse res) {
        boolean upgrade = req.headers().first(HeaderNames.UPGRADE).map(v -> v.equalsIgnoreCase("websocket")).orElse(false);
        if (upgrade && req.path().path().equals("/ws") && defect != Defect.NO_SOCKET_AUTH
                && defect != Defect.DEAD_SOCKET_ENDPOINT && upgradeUser(req.headers(), req.query(), false).isEmpty()) {
            error(res, 401, "unauthorized", "The socket needs an access token.");
            return;
        }
        chain.proceed();
    }

    // ---- the socket

    private final class Connection implements WsListener {
        private volatile String userId;
        private volatile WsSession session;

        @Override
        public Optional<Headers> onHttpUpgrade(HttpPrologue prologue, Headers headers) throws WsUpgradeException {
            Optional<String> user = upgradeUser(headers, prologue.query(), true);
            if (user.isEmpty() && defect != Defect.NO_SOCKET_AUTH) {
                throw new WsUpgradeException("no credentials");
            }
            userId = user.orElse("anonymous-" + UUID.randomUUID());
            boolean offeredJwtAuth = headers.first(WS_PROTOCOL)
                    .map(v -> List.of(v.split("\\s*,\\s*")).contains("jwt-auth")).orElse(false);
            if (offeredJwtAuth) {
                WritableHeaders<?> answer = WritableHeaders.create();
                answer.set(WS_PROTOCOL, "jwt-auth");
                return Optional.of(answer);
            }
            return Optional.empty();
        }

        @Override
        public void onOpen(WsSession session) {
            this.session = session;
            connections.add(this);
            ObjectNode data = Json.object().put("connection_id", UUID.randomUUID().toString()).put("user_id", userId)
                    .put("server_time", ServerEvent.formatTimestamp(Instant.now())).put("heartbeat_interval_ms", 25_000)
                    .put("max_message_bytes", 65_536).put("protocol_version", 1).put("event", "connection_established")
                    .put("connection_ready", true);
            send(ServerEvent.of("connection_established", Instant.now(), data).toWire());
        }

        @Override
        public void onClose(WsSession session, int status, String reason) {
            connections.remove(this);
        }

        @Override
        public void onError(WsSession session, Throwable t) {
            connections.remove(this);
        }

        @Override
        public void onMessage(WsSession session, String text, boolean last) {
            JsonNode frame;
            try {
                frame = Json.parseObject(text);
            } catch (ProtocolException e) {
                sendError("invalid_json", "The frame is not valid JSON.", null);
                return;
            }
            String type = frame.path("type").asText("");
            JsonNode payload = frame.has("payload") ? frame.get("payload") : frame;
            String replyTo = frame.path("message_id").asText(type);
            switch (type) {
                case "ping" -> send(ServerEvent.of("pong", Instant.now(), Json.object()
                        .put("timestamp", payload.path("timestamp").asText(ServerEvent.formatTimestamp(Instant.now())))
                        .put("server_time", ServerEvent.formatTimestamp(Instant.now()))).toWire());
                case "start_agent", "execute_agent", "user_message", "chat_message", "message" ->
                        startRun(this, payload, replyTo);
                case "stop_agent" -> stopRun(this, payload.path("run_id").asText(""), replyTo);
                case "resume" -> resumeRun(this, payload.path("run_id").asText(""), payload.path("last_seq").asLong(0));
                default -> sendError("unknown_type", "The message type is not known.", replyTo);
            }
        }

        /** Best effort: a connection that cannot be written to (a dropped client) is forgotten. */
        void send(String text) {
            synchronized (this) {
                WsSession open = session;
                if (open != null && connections.contains(this)) {
                    try {
                        open.send(text, true);
                    } catch (RuntimeException e) {
                        connections.remove(this);
                    }
                }
            }
        }

        void sendError(String code, String message, String replyTo) {
            ObjectNode data = Json.object();
            data.putObject("error").put("code", code).put("message", message);
            data.put("in_reply_to", replyTo);
            send(ServerEvent.of("error", Instant.now(), data).toWire());
        }
    }

    // ---- runs

    private void startRun(Connection connection, JsonNode payload, String replyTo) {
        String request = payload.path("user_request").asText(payload.path("content").asText(""));
        if (request.isEmpty()) {
            connection.sendError("invalid_message", "The field 'user_request' is required.", replyTo);
            return;
        }
        Conversation thread;
        String threadId = payload.path("thread_id").asText("");
        if (threadId.isEmpty()) {
            thread = newThread(connection.userId, request);
        } else {
            thread = threads.get(threadId);
            if (thread == null || !thread.ownerId.equals(connection.userId)) {
                connection.sendError("thread_not_found", "The thread does not exist.", replyTo);
                return;
            }
        }
        Run run;
        synchronized (thread) {
            if (thread.active != null) {
                connection.sendError("run_in_progress", "A run is already in progress on this thread.", replyTo);
                return;
            }
            run = new Run(UUID.randomUUID().toString(), thread, connection.userId);
            thread.active = run;
        }
        runs.put(run.id, run);
        Message question = new Message(UUID.randomUUID().toString(), "user", request, run.id, Instant.now());
        thread.messages.add(question);
        Thread.ofVirtual().name("fake-run-" + run.id).start(() -> agent(run, question));
    }

    private void agent(Run run, Message question) {
        long started = System.nanoTime();
        emit(run, "agent_started", Json.object().put("message_id", question.id()).put("user_request", question.content()));
        StringBuilder answer = new StringBuilder();
        String toolCallId = "call-" + UUID.randomUUID();
        List<Runnable> steps = List.of(
                () -> emit(run, "agent_thinking", Json.object().put("reasoning", "Reading the usage records.")
                        .put("step_number", 1)),
                () -> {
                    ObjectNode data = Json.object().put("tool_call_id", toolCallId).put("tool_name", "usage_summary");
                    data.putObject("parameters").put("group_by", "model");
                    emit(run, "tool_executing", data);
                },
                () -> {
                    ObjectNode data = Json.object().put("tool_call_id", toolCallId).put("tool_name", "usage_summary")
                            .put("execution_time_ms", 3).put("status", "success");
                    data.putObject("result").put("total_usd", 42.0);
                    emit(run, "tool_completed", data);
                },
                () -> {
                    answer.append(DELTAS.get(0));
                    emit(run, "partial_result", Json.object().put("delta", DELTAS.get(0)));
                },
                () -> {
                    answer.append(DELTAS.get(1));
                    emit(run, "partial_result", Json.object().put("delta", DELTAS.get(1)));
                });
        boolean cancelled = false;
        for (Runnable step : steps) {
            if (pauseOrCancelled(run)) {
                cancelled = true;
                break;
            }
            step.run();
        }
        if (!cancelled && pauseOrCancelled(run)) {
            cancelled = true;
        }
        String status = cancelled ? "cancelled" : "completed";
        String content = cancelled ? answer.toString() : FINAL_RESPONSE;
        Message reply = new Message(UUID.randomUUID().toString(), "assistant", content, run.id, Instant.now());
        run.thread.messages.add(reply);
        ObjectNode data = Json.object().put("status", status).put("final_response", content).put("message_id", reply.id())
                .put("execution_time_ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        data.putObject("usage").put("input_tokens", 120).put("output_tokens", 40).put("cost_usd", 0.0);
        emit(run, "agent_completed", data);
        synchronized (run.thread) {
            run.thread.active = null;
        }
    }

    /** Waits one step delay; true when a stop arrived (before or during the wait). */
    private boolean pauseOrCancelled(Run run) {
        run.lock.lock();
        try {
            long left = stepDelay.toNanos();
            while (!run.cancelRequested && left > 0) {
                left = run.woken.awaitNanos(left);
            }
            return run.cancelRequested;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        } finally {
            run.lock.unlock();
        }
    }

    private void emit(Run run, String type, ObjectNode data) {
        run.lock.lock();
        try {
            run.seq++;
            if (defect == Defect.SEQ_GAP && run.seq == 3) {
                run.seq++;
            }
            ObjectNode event = new ServerEvent(type, Instant.now(), data, run.thread.id, run.id, run.seq, "cost_optimizer")
                    .toJson();
            if (defect == Defect.MISSING_SEQ && run.seq > 1) {
                event.remove("seq");
            }
            run.log.add(event);
            boolean terminal = type.equals("agent_completed") || type.equals("agent_error");
            if (terminal) {
                run.status = data.path("status").asText("failed");
                run.finishedAt = Instant.now();
            }
            if (defect == Defect.EVENTS_OUT_OF_ORDER && run.seq == 2 && !terminal) {
                run.heldBack = event;
                return;
            }
            deliver(run, event);
            if (run.heldBack != null) {
                deliver(run, run.heldBack);
                run.heldBack = null;
            }
        } finally {
            run.lock.unlock();
        }
    }

    private void deliver(Run run, ObjectNode event) {
        String text = Json.write(event);
        for (Connection connection : connections) {
            if (defect == Defect.LEAKS_EVENTS_TO_OTHER_USERS || run.ownerId.equals(connection.userId)) {
                connection.send(text);
            }
        }
    }

    private void stopRun(Connection connection, String runId, String replyTo) {
        Run run = runs.get(runId);
        if (run == null || !run.ownerId.equals(connection.userId)) {
            connection.sendError("run_not_found", "The run does not exist.", replyTo);
            return;
        }
        run.lock.lock();
        try {
            if (!run.status.equals("running")) {
                connection.sendError("run_finished", "The run has already finished.", replyTo);
                return;
            }
            if (defect != Defect.IGNORES_STOP) {
                run.cancelRequested = true;
                run.woken.signalAll();
            }
        } finally {
            run.lock.unlock();
        }
    }

    private void resumeRun(Connection connection, String runId, long lastSeq) {
        Run run = runs.get(runId);
        if (run == null || !run.ownerId.equals(connection.userId)) {
            connection.send(ServerEvent.of("resume_failed", Instant.now(), Json.object().put("run_id", runId)
                    .put("reason", "run_not_found")).toWire());
            return;
        }
        run.lock.lock();
        try {
            int replayed = 0;
            for (ObjectNode event : run.log) {
                if (event.path("seq").asLong(Long.MAX_VALUE) > lastSeq) {
                    connection.send(Json.write(event));
                    replayed++;
                }
            }
            connection.send(ServerEvent.of("resumed", Instant.now(), Json.object().put("run_id", runId)
                    .put("replayed", replayed).put("complete", !run.status.equals("running"))).toWire());
        } finally {
            run.lock.unlock();
        }
    }
}
