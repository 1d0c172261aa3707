package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.EventType;
import dev.parley.server.config.Config;
import java.util.List;
import org.junit.jupiter.api.Test;

/** OpenAI Chat Completions streaming: SSE {@code data:} lines, tool arguments in string pieces, usage chunk, [DONE]. */
class OpenAiStreamingTest extends LlmProviderContract {
    OpenAiStreamingTest() {
        super(new Wire(Config.LlmProvider.OPENAI, "gpt-4o-mini", "/v1", "text/event-stream"));
    }

    private static final String HEAD = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1764300000,"
            + "\"model\":\"gpt-4o-mini\",";

    private static String chunk(String choices, String usage) {
        return "data: " + HEAD + "\"choices\":" + choices + ",\"usage\":" + usage + "}\n\n";
    }

    private static String delta(String delta, String finish) {
        return chunk("[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]", "null");
    }

    private static String usage(int prompt, int completion) {
        return chunk("[]", "{\"prompt_tokens\":" + prompt + ",\"completion_tokens\":" + completion + ",\"total_tokens\":"
                + (prompt + completion) + ",\"prompt_tokens_details\":{\"cached_tokens\":0},"
                + "\"completion_tokens_details\":{\"reasoning_tokens\":0}}");
    }

    @Override
    List<String> toolCallStream() {
        return List.of(
                delta("{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"I need the spend by model.\"}", "null"),
                delta("{\"tool_calls\":[{\"index\":0,\"id\":\"call_abc\",\"type\":\"function\",\"function\":"
                        + "{\"name\":\"query_usage\",\"arguments\":\"\"}}]}", "null"),
                delta("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"group_\"}}]}", "null"),
                delta("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"by\\\":\\\"model\\\"}\"}}]}", "null"),
                delta("{}", "\"tool_calls\""),
                usage(300, 20),
                "data: [DONE]\n\n");
    }

    @Override
    List<String> answerStream() {
        return List.of(
                delta("{\"role\":\"assistant\",\"content\":\"\"}", "null"),
                delta("{\"content\":\"" + ANSWER_PART_1 + "\"}", "null"),
                delta("{\"content\":\"" + ANSWER_PART_2 + "\"}", "null"),
                delta("{}", "\"stop\""),
                usage(900, 40),
                "data: [DONE]\n\n");
    }

    @Override
    long[] reportedTokens() {
        return new long[] {1200, 60};
    }

    @Override
    String providerCallId() {
        return "call_abc";
    }

    @Override
    void assertRequests(List<ScriptedLlmServer.Request> requests, String callId) {
        ScriptedLlmServer.Request first = requests.getFirst();
        assertThat(first.path()).isEqualTo("/v1/chat/completions");
        assertThat(first.header("Authorization")).isEqualTo("Bearer test-key");
        assertThat(first.body().path("stream").asBoolean()).isTrue();
        assertThat(first.body().path("tools").findValuesAsText("name"))
                .contains("query_usage", "price_catalog", "estimate_savings");
        JsonNode messages = requests.get(1).body().path("messages");
        JsonNode toolMessage = messages.get(messages.size() - 1);
        assertThat(toolMessage.path("role").asText()).isEqualTo("tool");
        assertThat(toolMessage.path("tool_call_id").asText()).isEqualTo(callId);
        assertThat(toolMessage.path("content").asText()).contains("\"requests\":" + userRequests);
        assertThat(messages.get(messages.size() - 2).path("tool_calls").get(0).path("id").asText()).isEqualTo(callId);
    }

    @Override
    List<String> streamWithError() {
        return List.of(
                delta("{\"role\":\"assistant\",\"content\":\"Looking\"}", "null"),
                "data: {\"error\":{\"message\":\"The server had an error while processing your request. Sorry about that!\","
                        + "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
                "data: [DONE]\n\n");
    }

    @Override
    String streamErrorKind() {
        return "server_error";
    }

    @Override
    String errorBody(int status) {
        return switch (status) {
            case 401 -> "{\"error\":{\"message\":\"Incorrect API key provided: te***ey\",\"type\":\"invalid_request_error\","
                    + "\"param\":null,\"code\":\"invalid_api_key\"}}";
            case 429 -> "{\"error\":{\"message\":\"Rate limit reached. Please try again in 1.2s.\",\"type\":\"requests\","
                    + "\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
            default -> "{\"error\":{\"message\":\"Invalid value for 'messages'.\",\"type\":\"invalid_request_error\","
                    + "\"param\":\"messages\",\"code\":null}}";
        };
    }

    @Override
    List<String> cutStream() {
        return List.of(delta("{\"role\":\"assistant\",\"content\":\"Your costliest\"}", "null"));
    }

    @Override
    List<String> firstChunks() {
        return List.of(delta("{\"role\":\"assistant\",\"content\":\"Looking\"}", "null"));
    }

    @Override
    String heartbeat() {
        return delta("{\"content\":\".\"}", "null");
    }

    @Test
    void earlierTurnsAreSentAndAModelThatKeepsCallingToolsStopsAtTheRoundLimit() throws Exception {
        for (int i = 0; i < LlmSupervisor.MAX_ROUNDS; i++) {
            server.then(ScriptedLlmServer.stream(wire.contentType(), toolCallStream()));
        }
        RecordingRun run = new RecordingRun(user, "And by model?", List.of(
                new AgentRun.Turn("user", "Where does my money go?"), new AgentRun.Turn("assistant", "Mostly code review.")));

        Answer answer = agent.run(run);

        assertThat(server.requests()).hasSize(LlmSupervisor.MAX_ROUNDS);
        assertThat(run.events(EventType.TOOL_COMPLETED)).hasSize(LlmSupervisor.MAX_ROUNDS);
        assertThat(answer.text()).contains("stopped after " + LlmSupervisor.MAX_ROUNDS + " rounds");
        assertThat(run.streamedText()).isEqualTo(answer.text());
        JsonNode messages = server.requests().getFirst().body().path("messages");
        assertThat(messages.get(0).path("role").asText()).isEqualTo("system");
        assertThat(messages.get(1).path("content").asText()).isEqualTo("Where does my money go?");
        assertThat(messages.get(2).path("role").asText()).isEqualTo("assistant");
        assertThat(messages.get(2).path("content").asText()).isEqualTo("Mostly code review.");
        assertThat(messages.get(3).path("content").asText()).isEqualTo("And by model?");
    }
}
