package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.config.Config;
import java.util.List;

/**
 * Gemini streamGenerateContent with {@code alt=sse}: {@code data:} lines of GenerateContentResponse, thought parts,
 * function calls in one piece, no end sentinel (the last chunk carries finishReason and usageMetadata).
 */
class GeminiStreamingTest extends LlmProviderContract {
    GeminiStreamingTest() {
        super(new Wire(Config.LlmProvider.GEMINI, "gemini-2.5-flash", "/v1beta", "text/event-stream"));
    }

    private static String chunk(String parts, String finish, String usage) {
        return "data: {\"candidates\":[{\"content\":{\"parts\":" + parts + ",\"role\":\"model\"},"
                + (finish == null ? "" : "\"finishReason\":\"" + finish + "\",") + "\"index\":0}],"
                + "\"usageMetadata\":" + usage + ",\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\n\n";
    }

    private static String usage(int prompt, Integer candidates) {
        return "{\"promptTokenCount\":" + prompt + (candidates == null ? "" : ",\"candidatesTokenCount\":" + candidates)
                + ",\"totalTokenCount\":" + (prompt + (candidates == null ? 0 : candidates)) + "}";
    }

    @Override
    List<String> toolCallStream() {
        return List.of(
                chunk("[{\"text\":\"I need the spend by model.\",\"thought\":true}]", null, usage(300, null)),
                chunk("[{\"functionCall\":{\"name\":\"query_usage\",\"args\":{\"group_by\":\"model\"}}}]", "STOP",
                        usage(300, 20)));
    }

    @Override
    List<String> answerStream() {
        return List.of(
                chunk("[{\"text\":\"" + ANSWER_PART_1 + "\"}]", null, usage(900, null)),
                chunk("[{\"text\":\"" + ANSWER_PART_2 + "\"}]", "STOP", usage(900, 40)));
    }

    @Override
    long[] reportedTokens() {
        return new long[] {1200, 60};
    }

    @Override
    String providerCallId() {
        return null;
    }

    @Override
    void assertRequests(List<ScriptedLlmServer.Request> requests, String callId) {
        ScriptedLlmServer.Request first = requests.getFirst();
        assertThat(first.path()).isEqualTo("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
        assertThat(first.query()).isEqualTo("alt=sse");
        assertThat(first.header("x-goog-api-key")).isEqualTo("test-key");
        assertThat(first.body().path("tools").findValuesAsText("name"))
                .contains("query_usage", "price_catalog", "estimate_savings");
        JsonNode contents = requests.get(1).body().path("contents");
        JsonNode response = contents.get(contents.size() - 1).path("parts").get(0).path("functionResponse");
        assertThat(response.path("name").asText()).isEqualTo("query_usage");
        assertThat(response.path("response").toString()).contains("requests").contains(Long.toString(userRequests));
        assertThat(contents.get(contents.size() - 2).path("parts").findValuesAsText("name")).contains("query_usage");
    }

    @Override
    List<String> streamWithError() {
        return List.of(
                chunk("[{\"text\":\"Looking\"}]", null, usage(100, null)),
                "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded. Please try again later.\","
                        + "\"status\":\"UNAVAILABLE\"}}\n\n");
    }

    @Override
    String streamErrorKind() {
        return "UNAVAILABLE";
    }

    @Override
    String errorBody(int status) {
        String name = switch (status) {
            case 401 -> "UNAUTHENTICATED";
            case 429 -> "RESOURCE_EXHAUSTED";
            default -> "INVALID_ARGUMENT";
        };
        return "{\"error\":{\"code\":" + status + ",\"message\":\"refused\",\"status\":\"" + name + "\"}}";
    }

    @Override
    List<String> cutStream() {
        return List.of(chunk("[{\"text\":\"Your costliest\"}]", null, usage(100, null)));
    }

    @Override
    List<String> firstChunks() {
        return List.of(chunk("[{\"text\":\"Looking\"}]", null, usage(100, null)));
    }

    @Override
    String heartbeat() {
        return chunk("[{\"text\":\".\"}]", null, usage(100, null));
    }
}
