package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.config.Config;
import java.util.List;

/** Ollama /api/chat: NDJSON lines, thinking beside content, whole tool calls, a last line with done:true and counts. */
class OllamaStreamingTest extends LlmProviderContract {
    OllamaStreamingTest() {
        super(new Wire(Config.LlmProvider.OLLAMA, "llama3.2", "", "application/x-ndjson"));
    }

    private static String line(String message, boolean done, String tail) {
        return "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-28T10:00:00.000Z\",\"message\":" + message
                + ",\"done\":" + done + tail + "}\n";
    }

    private static String content(String text) {
        return line("{\"role\":\"assistant\",\"content\":\"" + text + "\"}", false, "");
    }

    private static String done(int prompt, int eval) {
        return line("{\"role\":\"assistant\",\"content\":\"\"}", true, ",\"done_reason\":\"stop\",\"total_duration\":"
                + "181553584,\"load_duration\":27906292,\"prompt_eval_count\":" + prompt + ",\"prompt_eval_duration\":"
                + "109000000,\"eval_count\":" + eval + ",\"eval_duration\":42000000");
    }

    @Override
    List<String> toolCallStream() {
        return List.of(
                line("{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"I need the spend by model.\"}", false, ""),
                line("{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"query_usage\","
                        + "\"arguments\":{\"group_by\":\"model\"}}}]}", false, ""),
                done(300, 20));
    }

    @Override
    List<String> answerStream() {
        return List.of(content(ANSWER_PART_1), content(ANSWER_PART_2), done(900, 40));
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
        assertThat(first.path()).isEqualTo("/api/chat");
        assertThat(first.body().path("model").asText()).isEqualTo("llama3.2");
        assertThat(first.body().path("stream").asBoolean(true)).isTrue();
        assertThat(first.body().path("tools").findValuesAsText("name"))
                .contains("query_usage", "price_catalog", "estimate_savings");
        JsonNode messages = requests.get(1).body().path("messages");
        JsonNode result = messages.get(messages.size() - 1);
        assertThat(result.path("role").asText()).isEqualTo("tool");
        assertThat(result.path("content").asText()).contains("\"requests\":" + userRequests);
        assertThat(messages.get(messages.size() - 2).path("tool_calls").findValuesAsText("name")).contains("query_usage");
    }

    @Override
    List<String> streamWithError() {
        return List.of(content("Looking"), "{\"error\":\"model runner has unexpectedly stopped\"}\n");
    }

    @Override
    String streamErrorKind() {
        return "error";
    }

    @Override
    String errorBody(int status) {
        return "{\"error\":\"refused with " + status + "\"}";
    }

    @Override
    List<String> cutStream() {
        return List.of(content("Your costliest"));
    }

    @Override
    List<String> firstChunks() {
        return List.of(content("Looking"));
    }

    @Override
    String heartbeat() {
        return content(".");
    }
}
