package dev.parley.server.agent;

import dev.langchain4j.http.client.HttpClientBuilder;
import dev.langchain4j.model.anthropic.AnthropicStreamingChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.googleai.GoogleAiGeminiStreamingChatModel;
import dev.langchain4j.model.ollama.OllamaStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.parley.server.config.Config;
import java.net.URI;
import java.util.Locale;

/**
 * Builds the LangChain4j streaming chat model of the configured provider over a given HTTP transport. OpenAI also
 * serves OpenAI-compatible servers (vLLM, LM Studio, Groq, Together...) through {@code PARLEY_LLM_BASE_URL}.
 * Reasoning text is asked back from every provider that streams it.
 */
final class LlmModels {
    /** The output-token cap of every call, which also bounds what a call can cost (its budget reservation). */
    static final int MAX_OUTPUT_TOKENS = 4096;

    private final Config.LlmProvider provider;
    private final String model;
    private final String apiKey;
    private final String baseUrl;

    LlmModels(Config.Agent config) {
        this.provider = config.provider();
        this.model = config.model().orElseGet(() -> defaultModel(config.provider()));
        this.apiKey = config.apiKey().orElse(null);
        this.baseUrl = config.baseUrl().map(URI::toString).orElse(null);
    }

    static String defaultModel(Config.LlmProvider provider) {
        return switch (provider) {
            case OPENAI -> "gpt-4.1-mini";
            case ANTHROPIC -> "claude-sonnet-4-5";
            case GEMINI -> "gemini-2.5-flash";
            case OLLAMA -> "llama3.2";
            case NONE -> throw new IllegalArgumentException("the offline agent uses no model");
        };
    }

    /** The provider's name as the price catalog spells it. */
    String catalogProvider() {
        return switch (provider) {
            case GEMINI -> "google";
            default -> provider.name().toLowerCase(Locale.ROOT);
        };
    }

    String model() {
        return model;
    }

    /** Whether the model runs on the user's own hardware, so that its tokens cost nothing per call. */
    boolean local() {
        return provider == Config.LlmProvider.OLLAMA;
    }

    String label() {
        return provider.name().toLowerCase(Locale.ROOT) + "/" + model;
    }

    /** Whether the provider's stream ends by closing the connection, so that only a finish reason proves it complete. */
    boolean endsByClosing() {
        return provider == Config.LlmProvider.OPENAI || provider == Config.LlmProvider.GEMINI;
    }

    StreamingChatModel create(HttpClientBuilder http) {
        return switch (provider) {
            case OPENAI -> OpenAiStreamingChatModel.builder()
                    .httpClientBuilder(http)
                    .baseUrl(baseUrl)
                    .apiKey(apiKey)
                    .modelName(model)
                    .maxCompletionTokens(MAX_OUTPUT_TOKENS)
                    .returnThinking(true)
                    .build();
            case ANTHROPIC -> AnthropicStreamingChatModel.builder()
                    .httpClientBuilder(http)
                    .baseUrl(baseUrl)
                    .apiKey(apiKey)
                    .modelName(model)
                    .maxTokens(MAX_OUTPUT_TOKENS)
                    .returnThinking(true)
                    .build();
            case GEMINI -> GoogleAiGeminiStreamingChatModel.builder()
                    .httpClientBuilder(http)
                    .baseUrl(baseUrl)
                    .apiKey(apiKey)
                    .modelName(model)
                    .maxOutputTokens(MAX_OUTPUT_TOKENS)
                    .returnThinking(true)
                    .sendThinking(true)
                    .build();
            case OLLAMA -> OllamaStreamingChatModel.builder()
                    .httpClientBuilder(http)
                    .baseUrl(baseUrl == null ? "http://localhost:11434" : baseUrl)
                    .modelName(model)
                    .returnThinking(true)
                    .build();
            case NONE -> throw new IllegalArgumentException("the offline agent uses no model");
        };
    }
}
