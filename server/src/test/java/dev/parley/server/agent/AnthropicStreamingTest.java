package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.config.Config;
import java.util.List;

/** Anthropic Messages streaming: {@code event:} + {@code data:} pairs, thinking and tool_use blocks, message_stop. */
class AnthropicStreamingTest extends LlmProviderContract {
    AnthropicStreamingTest() {
        super(new Wire(Config.LlmProvider.ANTHROPIC, "claude-haiku-4-5", "/v1/", "text/event-stream"));
    }

    private static String event(String name, String data) {
        return "event: " + name + "\ndata: " + data + "\n\n";
    }

    private static String start(int inputTokens) {
        return event("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\","
                + "\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,"
                + "\"stop_sequence\":null,\"usage\":{\"input_tokens\":" + inputTokens + ",\"cache_creation_input_tokens\":0,"
                + "\"cache_read_input_tokens\":0,\"output_tokens\":1}}}");
    }

    private static String blockStart(int index, String block) {
        return event("content_block_start", "{\"type\":\"content_block_start\",\"index\":" + index
                + ",\"content_block\":" + block + "}");
    }

    private static String blockDelta(int index, String delta) {
        return event("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" + index + ",\"delta\":" + delta + "}");
    }

    private static String blockStop(int index) {
        return event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" + index + "}");
    }

    private static String end(String stopReason, int outputTokens) {
        return event("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" + stopReason
                + "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":" + outputTokens + "}}")
                + event("message_stop", "{\"type\":\"message_stop\"}");
    }

    @Override
    List<String> toolCallStream() {
        return List.of(
                start(377),
                blockStart(0, "{\"type\":\"thinking\",\"thinking\":\"\"}"),
                blockDelta(0, "{\"type\":\"thinking_delta\",\"thinking\":\"I need the spend by model.\"}"),
                blockDelta(0, "{\"type\":\"signature_delta\",\"signature\":\"c2lnbmF0dXJl\"}"),
                blockStop(0),
                event("ping", "{\"type\": \"ping\"}"),
                blockStart(1, "{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"query_usage\",\"input\":{}}"),
                blockDelta(1, "{\"type\":\"input_json_delta\",\"partial_json\":\"\"}"),
                blockDelta(1, "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"group_by\\\": \\\"mo\"}"),
                blockDelta(1, "{\"type\":\"input_json_delta\",\"partial_json\":\"del\\\"}\"}"),
                blockStop(1),
                end("tool_use", 65));
    }

    @Override
    List<String> answerStream() {
        return List.of(
                start(900),
                blockStart(0, "{\"type\":\"text\",\"text\":\"\"}"),
                blockDelta(0, "{\"type\":\"text_delta\",\"text\":\"" + ANSWER_PART_1 + "\"}"),
                blockDelta(0, "{\"type\":\"text_delta\",\"text\":\"" + ANSWER_PART_2 + "\"}"),
                blockStop(0),
                end("end_turn", 40));
    }

    @Override
    long[] reportedTokens() {
        return new long[] {377 + 900, 65 + 40};
    }

    @Override
    String providerCallId() {
        return "toolu_01";
    }

    @Override
    void assertRequests(List<ScriptedLlmServer.Request> requests, String callId) {
        ScriptedLlmServer.Request first = requests.getFirst();
        assertThat(first.path()).isEqualTo("/v1/messages");
        assertThat(first.header("x-api-key")).isEqualTo("test-key");
        assertThat(first.header("anthropic-version")).isEqualTo("2023-06-01");
        assertThat(first.body().path("stream").asBoolean()).isTrue();
        assertThat(first.body().path("max_tokens").asInt()).isPositive();
        assertThat(first.body().path("tools").findValuesAsText("name"))
                .contains("query_usage", "price_catalog", "estimate_savings");
        JsonNode messages = requests.get(1).body().path("messages");
        JsonNode result = messages.get(messages.size() - 1);
        assertThat(result.path("role").asText()).isEqualTo("user");
        JsonNode block = result.path("content").get(0);
        assertThat(block.path("type").asText()).isEqualTo("tool_result");
        assertThat(block.path("tool_use_id").asText()).isEqualTo(callId);
        assertThat(block.path("content").toString()).contains("requests").contains(Long.toString(userRequests));
        assertThat(messages.get(messages.size() - 2).path("content").findValuesAsText("id")).contains(callId);
    }

    @Override
    List<String> streamWithError() {
        return List.of(
                start(100),
                blockStart(0, "{\"type\":\"text\",\"text\":\"\"}"),
                blockDelta(0, "{\"type\":\"text_delta\",\"text\":\"Looking\"}"),
                event("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"));
    }

    @Override
    String streamErrorKind() {
        return "overloaded_error";
    }

    @Override
    String errorBody(int status) {
        String type = switch (status) {
            case 401 -> "authentication_error";
            case 429 -> "rate_limit_error";
            default -> "invalid_request_error";
        };
        return "{\"type\":\"error\",\"error\":{\"type\":\"" + type + "\",\"message\":\"refused\"},\"request_id\":\"req_1\"}";
    }

    @Override
    List<String> cutStream() {
        return List.of(start(100), blockStart(0, "{\"type\":\"text\",\"text\":\"\"}"),
                blockDelta(0, "{\"type\":\"text_delta\",\"text\":\"Your costliest\"}"));
    }

    @Override
    List<String> firstChunks() {
        return List.of(start(100), blockStart(0, "{\"type\":\"text\",\"text\":\"\"}"),
                blockDelta(0, "{\"type\":\"text_delta\",\"text\":\"Looking\"}"));
    }

    @Override
    String heartbeat() {
        return event("ping", "{\"type\": \"ping\"}");
    }
}
