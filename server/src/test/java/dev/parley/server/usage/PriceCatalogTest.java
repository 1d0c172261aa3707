package dev.parley.server.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.time.LocalDate;
import org.junit.jupiter.api.Test;

class PriceCatalogTest {
    private final PriceCatalog catalog = PriceCatalog.bundled();

    @Test
    void everyRowNamesItsSourceAndEffectiveDate() {
        assertThat(catalog.asOf()).isEqualTo(LocalDate.of(2026, 11, 28));
        assertThat(catalog.all()).hasSizeGreaterThan(40);
        assertThat(catalog.all()).allSatisfy(price -> {
            assertThat(price.source()).isNotBlank();
            assertThat(price.effectiveFrom()).isNotNull();
            assertThat(price.input().signum()).isGreaterThanOrEqualTo(0);
            assertThat(price.output().signum()).isGreaterThanOrEqualTo(0);
        });
        assertThat(catalog.all()).anyMatch(PriceCatalog.Price::uncertain);
        assertThat(catalog.current("openai", "gpt-5-nano").orElseThrow().uncertain()).isTrue();
        assertThat(catalog.current("openai", "gpt-4o-mini").orElseThrow().uncertain()).isFalse();
    }

    @Test
    void lighterModelsAreInTheCatalogToo() {
        assertThat(catalog.all()).filteredOn(price -> price.lighterModel() != null)
                .allSatisfy(price -> assertThat(catalog.knows(null, price.lighterModel()))
                        .as("lighter model of " + price.model()).isTrue());
    }

    @Test
    void findsModelsHoweverUsersSpellThem() {
        assertThat(catalog.current("anthropic", "claude-sonnet-4.5-20250929").orElseThrow().model())
                .isEqualTo("claude-sonnet-4-5");
        assertThat(catalog.current("Gemini", "gemini-2.5-flash").orElseThrow().provider()).isEqualTo("google");
        assertThat(catalog.current("openai", "gpt-4o-2024-08-06").orElseThrow().input()).isEqualByComparingTo("2.50");
        assertThat(catalog.current("azure", "gpt-4o-mini").orElseThrow().output()).isEqualByComparingTo("0.60");
        assertThat(catalog.knows("openai", "no-such-model")).isFalse();
    }

    @Test
    void pricesUsageAtThePriceInForceOnItsDay() {
        assertThat(catalog.find("anthropic", "claude-sonnet-5-5", LocalDate.of(2026, 10, 1), 0).orElseThrow()
                .cachedInput()).isEqualByComparingTo("0.20");
        assertThat(catalog.find("anthropic", "claude-sonnet-5-5", LocalDate.of(2026, 10, 7), 0).orElseThrow()
                .cachedInput()).isEqualByComparingTo("0.10");
        assertThat(catalog.find("google", "gemini-3.8-flash", LocalDate.of(2026, 12, 31), 0).orElseThrow().input())
                .isEqualByComparingTo("0.75");
        assertThat(catalog.find("google", "gemini-3.8-flash", LocalDate.of(2027, 1, 1), 0).orElseThrow().input())
                .isEqualByComparingTo("1.50");
    }

    @Test
    void longPromptsArePricedAtTheLongContextTier() {
        LocalDate day = LocalDate.of(2026, 11, 1);
        // 1,000 input and 100 output tokens on gpt-4o-mini: 1000 × 0.15/1M + 100 × 0.60/1M.
        assertThat(catalog.cost("openai", "gpt-4o-mini", day, 1_000, 100).orElseThrow())
                .isEqualByComparingTo(new BigDecimal("0.00021"));
        assertThat(catalog.cost("anthropic", "claude-sonnet-4-5", day, 250_000, 1_000).orElseThrow())
                .isEqualByComparingTo(new BigDecimal("6.00").multiply(BigDecimal.valueOf(250_000))
                        .add(new BigDecimal("22.50").multiply(BigDecimal.valueOf(1_000)))
                        .divide(BigDecimal.valueOf(1_000_000)));
    }

    @Test
    void aCatalogWithoutItsDateIsRefused() {
        assertThatThrownBy(() -> PriceCatalog.parse("provider,model\nopenai,gpt-4o\n"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("catalog_as_of");
    }
}
