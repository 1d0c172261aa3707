package dev.parley.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The protocol's one JSON mapper: snake_case fields, no failure on unknown fields, ISO timestamps, and deliberate
 * limits on what it reads ({@link #MAX_DEPTH}, {@link #MAX_NUMBER_CHARS}, {@link #MAX_STRING_CHARS}); a document past a
 * limit is refused as {@link ErrorCode#INVALID_JSON} like any other malformed one.
 */
public final class Json {
    /** Nesting of arrays and objects: our messages and the providers' replies need fewer than ten levels. */
    public static final int MAX_DEPTH = 64;
    /** Characters of one number: a 64-bit integer has 20, a double fewer than 30. */
    public static final int MAX_NUMBER_CHARS = 100;
    /**
     * Characters of one string. Client input is held to much less by the frame and body limits; this bound is for
     * what the server reads back of its own (a stored event holding a whole long answer) and for providers' replies.
     */
    public static final int MAX_STRING_CHARS = 64 * 1024 * 1024;

    /**
     * One buffer pool for every thread: the default pool keeps a buffer set per thread, which with a virtual thread
     * per connection costs several KB per idle socket.
     */
    public static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .recyclerPool(JsonRecyclerPools.sharedConcurrentDequePool())
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH)
                    .maxNumberLength(MAX_NUMBER_CHARS)
                    .maxStringLength(MAX_STRING_CHARS)
                    .build())
            .build())
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS, false)
            .findAndRegisterModules();

    private Json() {
    }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("value cannot be written as JSON: " + value.getClass().getName(), e);
        }
    }

    /** Parses a document, refusing malformed text with {@link ErrorCode#INVALID_JSON}. */
    public static JsonNode parse(String text) {
        try {
            JsonNode node = MAPPER.readTree(text);
            if (node == null || node.isMissingNode()) {
                throw new ProtocolException(ErrorCode.INVALID_JSON, "The body is empty.");
            }
            return node;
        } catch (StreamConstraintsException e) {
            throw new ProtocolException(ErrorCode.INVALID_JSON, "The JSON is past a limit: nesting deeper than "
                    + MAX_DEPTH + " levels, a number longer than " + MAX_NUMBER_CHARS + " characters or a string longer"
                    + " than " + MAX_STRING_CHARS + " characters.");
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new ProtocolException(ErrorCode.INVALID_JSON, at == null ? "The body is not valid JSON."
                    : "The body is not valid JSON (line " + at.getLineNr() + ", column " + at.getColumnNr() + ").");
        }
    }

    /** Parses a document that must be a JSON object. */
    public static ObjectNode parseObject(String text) {
        JsonNode node = parse(text);
        if (!node.isObject()) {
            throw new ProtocolException(ErrorCode.INVALID_JSON, "The body must be a JSON object.");
        }
        return (ObjectNode) node;
    }

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    public static <T> T convert(Object value, Class<T> type) {
        return MAPPER.convertValue(value, type);
    }
}
