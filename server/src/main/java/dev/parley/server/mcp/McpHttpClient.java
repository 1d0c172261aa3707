package dev.parley.server.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.config.Config;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client of one MCP server over Streamable HTTP (MCP 2025-06-18): JSON-RPC requests as HTTP POSTs whose answer is
 * either one JSON body or an event stream that carries the response (and perhaps notifications before it). The first
 * request initialises the session ({@code initialize}, then {@code notifications/initialized}) and keeps the
 * server's {@code Mcp-Session-Id}; a 404 on a request with that id means the server lost the session, and the request
 * is sent again once after initialising anew. A request that the caller abandons (interrupt) or that runs past its
 * timeout is aborted and the server is told with {@code notifications/cancelled}. The deployment's own session also
 * holds the server's event stream open (a GET), on which the server announces {@code tools/list_changed}. Calls made
 * with a user's credential ({@code user_secret} servers) run on a session of that user's; HTTP 401 or 403 is
 * {@link AuthRefused}. HTTP/1.1 only: the JDK client's HTTP/2 upgrade on {@code http://} URLs is not answered by
 * some servers (Express-based ones among them).
 *
 * <p>Thread-safe: requests run concurrently; sessions are created and replaced under {@link #sessionLock}.
 */
final class McpHttpClient implements McpClient {
    static final Duration CANCEL_TIMEOUT = Duration.ofSeconds(1);
    private static final Logger LOG = LoggerFactory.getLogger(McpHttpClient.class);

    private static final class SessionLost extends Exception {
        SessionLost() {
            super("the MCP session is gone", null, false, false);
        }
    }

    /**
     * A session: the server's id for it, the protocol version agreed, the credential header its requests carry, and
     * the user it belongs to (null: the deployment's own session, which discovers tools and listens for changes).
     */
    private record Session(String id, String protocolVersion, String[] auth, String user) {
    }

    /** Users' sessions kept per server, least recently used dropped first (the server expires what it holds). */
    static final int MAX_USER_SESSIONS = 1000;

    private final Config.McpServer server;
    private final String clientVersion;
    private final HttpClient http;
    private final Runnable onToolsChanged;
    private final AtomicLong ids = new AtomicLong();
    private final ReentrantLock sessionLock = new ReentrantLock();
    private volatile Session session;
    private final Map<String, Session> userSessions = java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Session> eldest) {
                    return size() > MAX_USER_SESSIONS;
                }
            });
    /** The server's stream of notifications (a GET on the endpoint), while one is open. */
    private volatile CompletableFuture<HttpResponse<Void>> notifications;
    private volatile boolean closed;

    McpHttpClient(Config.McpServer server, String clientVersion, Runnable onToolsChanged) {
        this.server = server;
        this.clientVersion = clientVersion;
        this.onToolsChanged = onToolsChanged;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(server.timeout().compareTo(Duration.ofSeconds(10)) < 0 ? server.timeout()
                        : Duration.ofSeconds(10))
                .build();
    }

    @Override
    public JsonNode request(String method, JsonNode params, Duration timeout, Credential credential)
            throws InterruptedException, Unavailable, TimedOut, RpcError, AuthRefused {
        Session current = session(credential, timeout);
        try {
            return exchange(current, method, params, timeout);
        } catch (SessionLost lost) {
            LOG.info("MCP server {} lost a session; initialising a new one", server.id());
            dropSession(current);
            try {
                return exchange(session(credential, timeout), method, params, timeout);
            } catch (SessionLost again) {
                throw new Unavailable("the MCP server " + server.id() + " lost the new session at once", null);
            }
        }
    }

    private Session known(Credential credential) {
        if (credential == null) {
            return session;
        }
        Session current = userSessions.get(credential.user());
        return current != null && java.util.Arrays.equals(current.auth(), credential.asHeader()) ? current : null;
    }

    private Session session(Credential credential, Duration timeout)
            throws InterruptedException, Unavailable, TimedOut, RpcError, AuthRefused {
        Session current = known(credential);
        if (current != null) {
            return current;
        }
        sessionLock.lockInterruptibly();
        try {
            current = known(credential);
            if (current != null) {
                return current;
            }
            String[] auth = credential == null ? authorization().orElse(null) : credential.asHeader();
            String user = credential == null ? null : credential.user();
            ObjectNode params = JsonRpc.initializeParams(clientVersion);
            Session opening = new Session(null, PROTOCOL_VERSION, auth, user);
            String[] sessionId = new String[1];
            JsonNode result;
            try {
                result = exchange(opening, "initialize", params, timeout, sessionId);
            } catch (SessionLost impossible) {
                throw new Unavailable("the MCP server " + server.id() + " refused to initialise", null);
            }
            String version = result.path("protocolVersion").asText(PROTOCOL_VERSION);
            Session opened = new Session(sessionId[0], version, auth, user);
            notify(opened, "notifications/initialized", null, timeout);
            if (user == null) {
                session = opened;
                listen(opened);
            } else {
                userSessions.put(user, opened);
            }
            return opened;
        } finally {
            sessionLock.unlock();
        }
    }

    private void dropSession(Session lost) {
        sessionLock.lock();
        try {
            if (lost.user() != null) {
                userSessions.remove(lost.user(), lost);
            } else if (session == lost) {
                session = null;
            }
        } finally {
            sessionLock.unlock();
        }
    }

    private JsonNode exchange(Session current, String method, JsonNode params, Duration timeout)
            throws InterruptedException, Unavailable, TimedOut, RpcError, AuthRefused, SessionLost {
        return exchange(current, method, params, timeout, null);
    }

    private JsonNode exchange(Session current, String method, JsonNode params, Duration timeout, String[] sessionId)
            throws InterruptedException, Unavailable, TimedOut, RpcError, AuthRefused, SessionLost {
        long id = ids.incrementAndGet();
        ObjectNode body = JsonRpc.request(id, method, params);
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        HttpResponse.BodyHandler<Void> handler = info -> {
            if (sessionId != null) {
                sessionId[0] = info.headers().firstValue("Mcp-Session-Id").orElse(null);
            }
            int status = info.statusCode();
            if (status == 404 && current.id() != null) {
                answer.completeExceptionally(new SessionLost());
                return HttpResponse.BodySubscribers.replacing(null);
            }
            if (status == 401 || status == 403) {
                answer.completeExceptionally(new AuthRefused("the MCP server " + server.id() + " refused the"
                        + " credential (HTTP " + status + ")"));
                return HttpResponse.BodySubscribers.replacing(null);
            }
            if (status / 100 != 2) {
                answer.completeExceptionally(new Unavailable("the MCP server " + server.id() + " answered HTTP "
                        + status, null));
                return HttpResponse.BodySubscribers.replacing(null);
            }
            String type = info.headers().firstValue("Content-Type").orElse("");
            if (type.startsWith("text/event-stream")) {
                return HttpResponse.BodySubscribers.fromLineSubscriber(new EventStream(id, answer));
            }
            return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofString(StandardCharsets.UTF_8),
                    text -> {
                        accept(text, id, answer);
                        return null;
                    });
        };
        CompletableFuture<HttpResponse<Void>> sent = http.sendAsync(post(current, body, timeout), handler);
        sent.whenComplete((response, failure) -> answer.completeExceptionally(failure != null ? failure
                : new Unavailable("the MCP server " + server.id() + " ended its answer without a response", null)));
        try {
            return JsonRpc.result(answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (InterruptedException e) {
            sent.cancel(true);
            cancelled(current, id, "The run was stopped.");
            throw e;
        } catch (TimeoutException e) {
            sent.cancel(true);
            throw timedOut(current, id, method, timeout);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            switch (cause) {
                case java.net.http.HttpTimeoutException late -> throw timedOut(current, id, method, timeout);
                case SessionLost lost -> throw lost;
                case AuthRefused refused -> throw refused;
                case Unavailable unavailable -> throw unavailable;
                default -> throw new Unavailable("the MCP server " + server.id() + " is unreachable ("
                        + describe(cause) + ")", cause);
            }
        }
    }

    /** A request past its timeout: the server is told it is cancelled, the caller gets {@link TimedOut}. */
    private TimedOut timedOut(Session current, long id, String method, Duration timeout) {
        cancelled(current, id, "Timed out after " + timeout.toMillis() + " ms.");
        return new TimedOut("the MCP server " + server.id() + " did not answer " + method + " within "
                + timeout.toMillis() + " ms");
    }

    private static String describe(Throwable failure) {
        return failure instanceof IOException || failure instanceof ProtocolException
                ? failure.getClass().getSimpleName() + (failure.getMessage() == null ? "" : ": " + failure.getMessage())
                : failure.getClass().getSimpleName();
    }

    /** Reads a JSON answer: the response to {@code id}, possibly within a batch. */
    private void accept(String text, long id, CompletableFuture<JsonNode> answer) {
        JsonNode message;
        try {
            message = Json.parse(text);
        } catch (ProtocolException e) {
            answer.completeExceptionally(new Unavailable("the MCP server " + server.id() + " answered something that"
                    + " is not JSON", null));
            return;
        }
        if (message.isArray()) {
            for (JsonNode one : message) {
                if (!deliver(one, id, answer)) {
                    notification(one);
                }
            }
        } else if (!deliver(message, id, answer)) {
            notification(message);
        }
    }

    private static boolean deliver(JsonNode message, long id, CompletableFuture<JsonNode> answer) {
        if (JsonRpc.isResponse(message) && message.get("id").asText().equals(Long.toString(id))) {
            answer.complete(message);
            return true;
        }
        return false;
    }

    private void notification(JsonNode message) {
        if (JsonRpc.announcesToolsChanged(message)) {
            onToolsChanged.run();
        }
    }

    /** An event stream answer: each event's {@code data} lines make one JSON-RPC message. */
    private final class EventStream implements Flow.Subscriber<String> {
        private final long id;
        private final CompletableFuture<JsonNode> answer;
        private final StringBuilder data = new StringBuilder();
        private Flow.Subscription subscription;

        EventStream(long id, CompletableFuture<JsonNode> answer) {
            this.id = id;
            this.answer = answer;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(String line) {
            if (line.isEmpty()) {
                dispatch();
            } else if (line.startsWith("data:")) {
                if (!data.isEmpty()) {
                    data.append('\n');
                }
                data.append(line.startsWith("data: ") ? line.substring(6) : line.substring(5));
            }
            // event:, id:, retry: and comments carry nothing this client uses
        }

        private void dispatch() {
            if (data.isEmpty()) {
                return;
            }
            String text = data.toString();
            data.setLength(0);
            accept(text, id, answer);
            if (answer.isDone()) {
                subscription.cancel(); // the response is in: the server may keep the stream open, we do not
            }
        }

        @Override
        public void onError(Throwable failure) {
            answer.completeExceptionally(failure);
        }

        @Override
        public void onComplete() {
            dispatch();
        }
    }

    /**
     * Opens the server's own stream (a GET with the session), on which it announces changes such as
     * {@code notifications/tools/list_changed}. A server that offers none answers 405, and is not asked again for this
     * session; a stream that ends is opened again a second later while the session lasts.
     */
    private void listen(Session opened) {
        if (closed || opened.id() == null) {
            return;
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(server.url()).GET()
                .header("Accept", "text/event-stream")
                .header("Mcp-Session-Id", opened.id())
                .header("MCP-Protocol-Version", opened.protocolVersion());
        if (opened.auth() != null) {
            request.header(opened.auth()[0], opened.auth()[1]);
        }
        CompletableFuture<JsonNode> unused = new CompletableFuture<>();
        HttpResponse.BodyHandler<Void> handler = info -> info.statusCode() == 200
                && info.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")
                ? HttpResponse.BodySubscribers.fromLineSubscriber(new EventStream(-1, unused))
                : HttpResponse.BodySubscribers.replacing(null);
        CompletableFuture<HttpResponse<Void>> stream = http.sendAsync(request.build(), handler);
        notifications = stream;
        stream.whenComplete((response, failure) -> {
            if (closed || session != opened || response == null || response.statusCode() != 200) {
                return; // closed, a new session listens itself, or the server offers no stream
            }
            CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS).execute(() -> {
                if (!closed && session == opened) {
                    listen(opened);
                }
            });
        });
    }

    /** Tells the server that request {@code id} is abandoned; does not wait, gives up after {@link #CANCEL_TIMEOUT}. */
    private void cancelled(Session current, long id, String reason) {
        http.sendAsync(post(current, JsonRpc.cancelled(id, reason), CANCEL_TIMEOUT), HttpResponse.BodyHandlers.discarding())
                .whenComplete((response, failure) -> {
                    if (failure != null) {
                        LOG.info("MCP server {}: telling it that request {} is cancelled failed ({})", server.id(), id,
                                failure.getClass().getSimpleName());
                    }
                });
    }

    private void notify(Session current, String method, JsonNode params, Duration timeout)
            throws InterruptedException, Unavailable {
        try {
            HttpResponse<Void> response = http.sendAsync(post(current, JsonRpc.notification(method, params), timeout),
                    HttpResponse.BodyHandlers.discarding()).get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (response.statusCode() / 100 != 2) {
                throw new Unavailable("the MCP server " + server.id() + " answered HTTP " + response.statusCode()
                        + " to " + method, null);
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new Unavailable("the MCP server " + server.id() + " did not take " + method, e);
        }
    }

    private HttpRequest post(Session current, JsonNode body, Duration timeout) {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.url())
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8));
        if (current.id() != null) {
            request.header("Mcp-Session-Id", current.id());
            request.header("MCP-Protocol-Version", current.protocolVersion());
        }
        if (current.auth() != null) {
            request.header(current.auth()[0], current.auth()[1]);
        }
        return request.build();
    }

    /** The deployment's own credential: a {@code static} server's {@code value_env} (also used to discover tools). */
    private Optional<String[]> authorization() {
        return server.authValue().map(value -> header(server, value));
    }

    /** The header that carries {@code value} to this server: {@code auth.header} raw, else a Bearer authorization. */
    static String[] header(Config.McpServer server, String value) {
        return server.authHeader().map(name -> new String[] {name, value})
                .orElseGet(() -> new String[] {"Authorization", "Bearer " + value});
    }

    /** Ends the session at the server (best effort, briefly) and closes the HTTP client. */
    @Override
    public void close() {
        closed = true;
        CompletableFuture<HttpResponse<Void>> stream = notifications;
        if (stream != null) {
            stream.cancel(true);
        }
        Session current = session;
        if (current != null && current.id() != null) {
            HttpRequest.Builder request = HttpRequest.newBuilder(server.url()).timeout(CANCEL_TIMEOUT).DELETE()
                    .header("Mcp-Session-Id", current.id());
            if (current.auth() != null) {
                request.header(current.auth()[0], current.auth()[1]);
            }
            try {
                http.sendAsync(request.build(), HttpResponse.BodyHandlers.discarding())
                        .get(CANCEL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                LOG.debug("MCP server {}: ending the session failed ({})", server.id(), e.toString());
            }
        }
        http.shutdownNow();
    }
}
