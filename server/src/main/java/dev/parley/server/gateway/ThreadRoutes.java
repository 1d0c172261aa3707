package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.conversation.ChatThread;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.conversation.ThreadPage;
import dev.parley.server.conversation.Titles;
import dev.parley.server.run.RunService;
import io.helidon.http.Status;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import java.time.Duration;

/**
 * /api/threads: list, create, read, rename and delete the caller's threads, and read a thread's messages. Someone
 * else's thread answers exactly like a missing one (404 {@code thread_not_found}). Deleting a thread whose run is
 * still going stops the run first; if it has not ended within {@link #STOP_WAIT}, the delete is refused with 409
 * {@code run_in_progress}.
 */
public final class ThreadRoutes implements HttpService {
    static final int DEFAULT_LIMIT = 20;
    static final int MAX_LIMIT = 100;
    static final int DEFAULT_MESSAGES = 50;
    static final int MAX_MESSAGES = 200;
    static final Duration STOP_WAIT = Duration.ofSeconds(3);

    private final ConversationStore conversations;
    private final RunService runs;
    private final TokenVerifier verifier;
    private final int maxRequestBytes;

    public ThreadRoutes(ConversationStore conversations, RunService runs, TokenVerifier verifier, int maxRequestBytes) {
        this.conversations = conversations;
        this.runs = runs;
        this.verifier = verifier;
        this.maxRequestBytes = maxRequestBytes;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.get("/api/threads", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            int limit = Http.queryInt(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
            int offset = Http.queryInt(request, "offset", 0, 0, Integer.MAX_VALUE);
            ThreadPage page = conversations.listThreads(principal.userId(), limit, offset);
            ObjectNode body = Json.object();
            ArrayNode threads = body.putArray("threads");
            page.threads().forEach(thread -> threads.add(Views.thread(thread)));
            body.put("total", page.total());
            body.put("limit", limit);
            body.put("offset", offset);
            Http.json(response, 200, body);
        });
        rules.post("/api/threads", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            ObjectNode body = Http.jsonBody(request, maxRequestBytes);
            String title = title(body, false);
            Http.json(response, 201, Views.thread(conversations.createThread(principal.userId(), title)));
        });
        rules.get("/api/threads/{id}", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            Http.json(response, 200, Views.thread(conversations.requireThread(principal.userId(), id(request))));
        });
        rules.patch("/api/threads/{id}", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            ObjectNode body = Http.jsonBody(request, maxRequestBytes);
            ChatThread thread = conversations.renameThread(principal.userId(), id(request), title(body, true));
            Http.json(response, 200, Views.thread(thread));
        });
        rules.delete("/api/threads/{id}", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            String threadId = id(request);
            conversations.requireThread(principal.userId(), threadId);
            if (!runs.stopRunOnThread(principal.userId(), threadId, STOP_WAIT)) {
                throw new ProtocolException(ErrorCode.RUN_IN_PROGRESS,
                        "The thread's run did not stop in time; try deleting again in a moment.");
            }
            if (!conversations.deleteThread(principal.userId(), threadId)) {
                throw new ProtocolException(ErrorCode.THREAD_NOT_FOUND, "There is no such thread.");
            }
            response.status(Status.NO_CONTENT_204).send();
        });
        rules.get("/api/threads/{id}/messages", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            int limit = Http.queryInt(request, "limit", DEFAULT_MESSAGES, 1, MAX_MESSAGES);
            String before = request.query().first("before").asOptional().filter(value -> !value.isBlank()).orElse(null);
            ObjectNode body = Json.object();
            ArrayNode messages = body.putArray("messages");
            conversations.messages(principal.userId(), id(request), limit, before)
                    .forEach(message -> messages.add(Views.message(message)));
            Http.json(response, 200, body);
        });
    }

    private static String id(ServerRequest request) {
        return request.path().pathParameters().get("id");
    }

    private static String title(JsonNode body, boolean required) {
        JsonNode value = body.get("title");
        if (value == null || value.isNull()) {
            if (required) {
                throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field 'title' is required.");
            }
            return null;
        }
        if (!value.isTextual()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field 'title' must be a string.");
        }
        if (required && value.asText().isBlank()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field 'title' must not be empty.");
        }
        if (value.asText().strip().length() > Titles.MAX_CHARS) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                    "The field 'title' must be at most " + Titles.MAX_CHARS + " characters.");
        }
        return value.asText();
    }
}
