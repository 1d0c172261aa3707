package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.MessageType;
import dev.parley.protocol.ProtocolException;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.conversation.ChatMessage;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.failure.Failure;
import dev.parley.server.failure.Failures;
import dev.parley.server.run.RunService;
import dev.parley.server.run.StartRequest;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one client message and does what it asks: the envelope ({@code type}, {@code payload} or the whole object
 * for older clients, {@code message_id}), the rate limit, field validation, and the answer. A refused message gets
 * an {@code error} event whose {@code in_reply_to} is the client's {@code message_id} (or its type); the socket stays
 * open. Stateless; runs on the socket's connection thread.
 */
final class ClientMessages {
    static final int HISTORY_DEFAULT_LIMIT = 50;
    static final int HISTORY_MAX_LIMIT = 100;
    private static final Logger LOG = LoggerFactory.getLogger(ClientMessages.class);

    private final RunService runs;
    private final ConversationStore conversations;
    private final TokenVerifier verifier;
    private final SocketMetrics metrics;
    private final Clock clock;

    ClientMessages(RunService runs, ConversationStore conversations, TokenVerifier verifier, SocketMetrics metrics,
                   Clock clock) {
        this.runs = runs;
        this.conversations = conversations;
        this.verifier = verifier;
        this.metrics = metrics;
        this.clock = clock;
    }

    /** The envelope of a client message once read. */
    private record Envelope(MessageType type, String typeName, ObjectNode payload, String messageId) {
        String inReplyTo() {
            return messageId != null ? messageId : typeName;
        }
    }

    /**
     * Handles one complete text message.
     *
     * @param retryAfterMillis 0 when the message is within the rate limit, else how long until it would be
     */
    void handle(SocketSession session, String text, long retryAfterMillis) {
        JsonNode node;
        try {
            node = Json.parse(text);
        } catch (ProtocolException e) {
            if (retryAfterMillis > 0) {
                rateLimited(session, null, retryAfterMillis);
            } else {
                session.sendError(ErrorCode.INVALID_JSON, e.getMessage(), Map.of(), null);
            }
            return;
        }
        String messageId = scalarText(node.get("message_id"));
        String typeName = node.path("type").isTextual() ? node.get("type").asText() : null;
        String inReplyTo = messageId != null ? messageId : typeName;
        if (retryAfterMillis > 0) {
            rateLimited(session, inReplyTo, retryAfterMillis);
            return;
        }
        try {
            Envelope envelope = read(node, typeName, messageId);
            metrics.received(envelope.type().wireName());
            dispatch(session, envelope);
        } catch (RuntimeException e) {
            answerFailure(session, typeName, inReplyTo, e);
        }
    }

    /**
     * A message that failed, now or later (a start the database refused): its code for a {@link ProtocolException},
     * else {@code internal} with a request id that names the logged stack trace. The socket stays open.
     */
    private static void answerFailure(SocketSession session, String typeName, String inReplyTo, Throwable failure) {
        Failure answer = Failures.translate(failure, null, LOG,
                "Socket " + session.connectionId + " message " + typeName);
        session.sendError(answer.code(), answer.message(), answer.detailsWithRequestId(), inReplyTo);
    }

    private static void rateLimited(SocketSession session, String inReplyTo, long retryAfterMillis) {
        session.sendError(ErrorCode.RATE_LIMITED, "Too many messages; wait " + retryAfterMillis + " ms.",
                Map.of("retry_after_ms", retryAfterMillis), inReplyTo);
    }

    private static Envelope read(JsonNode node, String typeName, String messageId) {
        if (!node.isObject()) {
            throw invalid("A message must be a JSON object with a 'type'.");
        }
        JsonNode type = node.get("type");
        if (type == null || type.isNull()) {
            throw invalid("The field 'type' is required.");
        }
        if (!type.isTextual()) {
            throw invalid("The field 'type' must be a string.");
        }
        MessageType messageType = MessageType.fromWire(typeName).orElseThrow(() ->
                new ProtocolException(ErrorCode.UNKNOWN_TYPE, "The message type '" + truncate(typeName) + "' is not known."));
        JsonNode payload = node.get("payload");
        ObjectNode body;
        if (payload == null || payload.isNull()) {
            body = (ObjectNode) node; // older clients put the fields beside 'type'
        } else if (payload.isObject()) {
            body = (ObjectNode) payload;
        } else {
            throw invalid("The field 'payload' must be an object.");
        }
        return new Envelope(messageType, typeName, body, messageId);
    }

    private void dispatch(SocketSession session, Envelope message) {
        ObjectNode p = message.payload();
        switch (message.type()) {
            case START_AGENT -> {
                String request = firstText(p, "user_request", "content", "text");
                start(session, message, request, p);
            }
            case USER_MESSAGE -> {
                String content = firstText(p, "content", "text", "message");
                optionalArray(p, "references");
                start(session, message, content, p);
            }
            case STOP_AGENT -> runs.stop(session.userId(), requireText(p, "run_id"));
            case RESUME -> {
                String runId = requireText(p, "run_id");
                long lastSeq = optionalLong(p, "last_seq").orElse(0L);
                if (lastSeq < 0) {
                    throw invalid("The field 'last_seq' must not be negative.");
                }
                session.resume(runId, lastSeq);
            }
            case GET_THREAD_HISTORY -> history(session, p);
            case AUTH_REFRESH -> refresh(session, requireText(p, "token"));
            case APPROVE_TOOL -> {
                String approvalId = requireText(p, "approval_id");
                boolean approve = ApprovalDecisions.approve(requireText(p, "decision"), ErrorCode.INVALID_MESSAGE);
                String reason = ApprovalDecisions.reason(optionalText(p, "reason").orElse(null),
                        ErrorCode.INVALID_MESSAGE);
                // The answer is the run's approval_resolved event, which every socket of the user gets.
                runs.approvals().decide(session.userId(), approvalId, approve, reason);
            }
            case PING -> {
                ObjectNode data = Json.object();
                JsonNode timestamp = p.get("timestamp");
                if (timestamp != null && !timestamp.isNull() && (timestamp.isNumber() || timestamp.isTextual())) {
                    data.set("timestamp", timestamp);
                } else {
                    data.put("timestamp", ServerEvent.formatTimestamp(clock.instant()));
                }
                data.put("server_time", ServerEvent.formatTimestamp(clock.instant()));
                session.send(EventType.PONG, data);
            }
            case HEARTBEAT -> {
                ObjectNode data = Json.object();
                data.put("status", "healthy");
                data.put("server_time", ServerEvent.formatTimestamp(clock.instant()));
                session.send(EventType.HEARTBEAT_ACK, data);
            }
            case HEARTBEAT_ACK, PONG -> {
                // liveness only, already noted
            }
        }
    }

    private void start(SocketSession session, Envelope message, String text, ObjectNode p) {
        String field = message.type() == MessageType.START_AGENT ? "user_request" : "content";
        if (text == null) {
            if (p.has(field) && !p.get(field).isNull()) {
                throw invalid("The field '" + field + "' must be a string.");
            }
            throw invalid("The field '" + field + "' is required.");
        }
        if (text.isBlank()) {
            throw invalid("The field '" + field + "' must not be empty.");
        }
        String threadId = optionalText(p, "thread_id").orElse(null);
        JsonNode context = optionalObject(p, "context");
        JsonNode settings = optionalObject(p, "settings");
        if (settings != null && settings.has("step_delay_ms")) {
            JsonNode delay = settings.get("step_delay_ms");
            if (!delay.canConvertToLong() || !delay.isIntegralNumber() || delay.asLong() < 0
                    || delay.asLong() > StartRequest.MAX_STEP_DELAY_MS) {
                throw invalid("The field 'settings.step_delay_ms' must be a whole number from 0 to "
                        + StartRequest.MAX_STEP_DELAY_MS + ".");
            }
        }
        // The start is stored by the run journal; the reader goes on with the socket's next frames meanwhile.
        runs.startAsync(session.userId(), new StartRequest(threadId, text, context, settings))
                .whenComplete((started, failure) -> {
                    if (failure != null) {
                        answerFailure(session, message.typeName(), message.inReplyTo(),
                                failure instanceof CompletionException wrapped && wrapped.getCause() != null
                                        ? wrapped.getCause() : failure);
                    }
                });
    }

    private void history(SocketSession session, ObjectNode p) {
        String threadId = requireText(p, "thread_id");
        long limit = optionalLong(p, "limit").orElse((long) HISTORY_DEFAULT_LIMIT);
        if (limit < 1 || limit > HISTORY_MAX_LIMIT) {
            throw invalid("The field 'limit' must be between 1 and " + HISTORY_MAX_LIMIT + ".");
        }
        String before = optionalText(p, "before").orElse(null);
        List<ChatMessage> messages;
        try {
            messages = conversations.messages(session.userId(), threadId, (int) limit, before);
        } catch (ProtocolException e) {
            if (e.code() == ErrorCode.INVALID_REQUEST) {
                throw invalid(e.getMessage());
            }
            throw e;
        }
        ObjectNode data = Json.object();
        data.put("thread_id", threadId);
        ArrayNode list = data.putArray("messages");
        messages.forEach(message -> list.add(Views.message(message)));
        session.send(EventType.THREAD_HISTORY, data);
    }

    private void refresh(SocketSession session, String token) {
        Principal next;
        try {
            next = verifier.verifyAccess(token);
        } catch (ProtocolException e) {
            throw new ProtocolException(ErrorCode.INVALID_TOKEN,
                    "The token was refused (" + e.code().code() + "); the socket keeps its current expiry.");
        }
        if (!next.userId().equals(session.userId())) {
            throw new ProtocolException(ErrorCode.INVALID_TOKEN,
                    "The token belongs to another user; the socket keeps its current expiry.");
        }
        session.refresh(next);
        ObjectNode data = Json.object();
        data.put("expires_at", ServerEvent.formatTimestamp(next.expiresAt()));
        session.send(EventType.AUTH_REFRESHED, data);
    }

    // ---- field readers: a missing or mistyped field is invalid_message naming the field ----

    private static String requireText(ObjectNode p, String field) {
        JsonNode value = p.get(field);
        if (value == null || value.isNull()) {
            throw invalid("The field '" + field + "' is required.");
        }
        if (!value.isTextual()) {
            throw invalid("The field '" + field + "' must be a string.");
        }
        if (value.asText().isBlank()) {
            throw invalid("The field '" + field + "' must not be empty.");
        }
        return value.asText();
    }

    private static Optional<String> optionalText(ObjectNode p, String field) {
        JsonNode value = p.get(field);
        if (value == null || value.isNull() || value.isTextual() && value.asText().isEmpty()) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw invalid("The field '" + field + "' must be a string.");
        }
        return Optional.of(value.asText());
    }

    private static Optional<Long> optionalLong(ObjectNode p, String field) {
        JsonNode value = p.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw invalid("The field '" + field + "' must be a whole number.");
        }
        return Optional.of(value.asLong());
    }

    private static JsonNode optionalObject(ObjectNode p, String field) {
        JsonNode value = p.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isObject()) {
            throw invalid("The field '" + field + "' must be an object.");
        }
        return value;
    }

    private static void optionalArray(ObjectNode p, String field) {
        JsonNode value = p.get(field);
        if (value != null && !value.isNull() && !value.isArray()) {
            throw invalid("The field '" + field + "' must be an array.");
        }
    }

    /** The first of the named fields that is a string; null when none is (a non-string first field is kept null). */
    private static String firstText(ObjectNode p, String... fields) {
        for (String field : fields) {
            JsonNode value = p.get(field);
            if (value != null && !value.isNull()) {
                return value.isTextual() ? value.asText() : null;
            }
        }
        return null;
    }

    private static String scalarText(JsonNode value) {
        if (value == null || value.isNull() || value.isContainerNode()) {
            return null;
        }
        return truncate(value.asText());
    }

    private static String truncate(String text) {
        return text.length() > 128 ? text.substring(0, 128) : text;
    }

    private static ProtocolException invalid(String message) {
        return new ProtocolException(ErrorCode.INVALID_MESSAGE, message);
    }
}
