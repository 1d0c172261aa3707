package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.usage.PriceCatalog;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class TriageTest {
    private final Triage triage = new Triage(PriceCatalog.bundled());

    @ParameterizedTest(name = "{0} → {1}")
    @CsvSource(delimiter = '|', value = {
            "Where does my money go?|COSTS",
            "Analyze my AI costs|COSTS",
            "How can I reduce our LLM bill?|COSTS",
            "Which feature is the most expensive?|COSTS",
            "What is slow?|LATENCY",
            "Why are responses taking so long? Show p95 latency|LATENCY",
            "What if we moved summarization to claude-haiku-4-5?|WHAT_IF",
            "Switch support chat to GPT 4o mini|WHAT_IF",
            "Could we move code review to a cheaper model?|WHAT_IF",
            "Compare providers|COMPARE_PROVIDERS",
            "Is Anthropic cheaper than OpenAI for us?|COMPARE_PROVIDERS",
            "How much does gpt-4o-mini cost?|PRICES",
            "What is the price of Claude Sonnet 4.5?|PRICES",
            "Write me a poem about the sea|UNSUPPORTED",
            "hello|UNSUPPORTED",
            "What's the weather in Paris?|UNSUPPORTED"})
    void routesTheQuestionsUsersAsk(String question, Triage.Kind kind) {
        assertThat(triage.read(question).kind()).isEqualTo(kind);
    }

    @Test
    void findsModelsAndFeaturesHoweverTheyAreWritten() {
        assertThat(triage.read("Switch support chat from gpt-4o to GPT 4o mini").models())
                .containsExactly("gpt-4o", "gpt-4o-mini");
        assertThat(triage.read("move it to Claude Haiku 4.5").targetModel()).hasValue("claude-haiku-4-5");
        assertThat(Triage.mentions("Switch Support Chat to gpt-4o-mini", List.of("support_chat", "chat", "summarization")))
                .containsExactly("support_chat");
    }

    @Test
    void keysSpellNamesOneWay() {
        assertThat(Triage.key("GPT 4o.mini")).isEqualTo("gpt-4o-mini");
        assertThat(Triage.key("Claude  Haiku\t4._5")).isEqualTo("claude-haiku-4-5");
        assertThat(Triage.key(" support_chat\r\n")).isEqualTo("-support-chat-");
        assertThat(Triage.key("gpt-4o-mini")).isEqualTo("gpt-4o-mini");
    }
}
