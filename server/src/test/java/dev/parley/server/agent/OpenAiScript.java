package dev.parley.server.agent;

import dev.parley.protocol.Json;
import java.util.List;

/** Replies of an OpenAI-compatible model for {@link ScriptedLlmServer}: a tool call, or a streamed answer. */
public final class OpenAiScript {
    static final String CONTENT_TYPE = "text/event-stream";
    private static final String HEAD = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1764300000,"
            + "\"model\":\"gpt-4o-mini\",";

    private OpenAiScript() {
    }

    private static String chunk(String choices, String usage) {
        return "data: " + HEAD + "\"choices\":" + choices + ",\"usage\":" + usage + "}\n\n";
    }

    private static String delta(String delta, String finish) {
        return chunk("[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]", "null");
    }

    private static String usage() {
        return chunk("[]", "{\"prompt_tokens\":100,\"completion_tokens\":10,\"total_tokens\":110}");
    }

    /** The model calls {@code tool} with {@code argumentsJson} under the call id {@code callId}. */
    public static ScriptedLlmServer.Reply toolCall(String callId, String tool, String argumentsJson) {
        return ScriptedLlmServer.stream(CONTENT_TYPE, List.of(
                delta("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"" + callId
                        + "\",\"type\":\"function\",\"function\":{\"name\":\"" + tool + "\",\"arguments\":"
                        + Json.write(argumentsJson) + "}}]}", "null"),
                delta("{}", "\"tool_calls\""),
                usage(),
                "data: [DONE]\n\n"));
    }

    /** The model answers {@code text}. */
    public static ScriptedLlmServer.Reply answer(String text) {
        return ScriptedLlmServer.stream(CONTENT_TYPE, List.of(
                delta("{\"role\":\"assistant\",\"content\":" + Json.write(text)
                        + "}", "null"),
                delta("{}", "\"stop\""),
                usage(),
                "data: [DONE]\n\n"));
    }
}
