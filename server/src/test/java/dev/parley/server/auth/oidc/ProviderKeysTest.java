package dev.parley.server.auth.oidc;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ProviderKeysTest {
    @Test
    void maxAgeIsTheProvidersWithinBounds() {
        assertThat(ProviderKeys.maxAge("public, max-age=19549, must-revalidate, no-transform"))
                .isEqualTo(Duration.ofSeconds(19_549));
        assertThat(ProviderKeys.maxAge("max-age=\"600\"")).isEqualTo(Duration.ofMinutes(10));
        assertThat(ProviderKeys.maxAge("max-age=5")).isEqualTo(ProviderKeys.MIN_AGE);
        assertThat(ProviderKeys.maxAge("max-age=999999999")).isEqualTo(ProviderKeys.MAX_AGE);
        assertThat(ProviderKeys.maxAge("no-store")).isEqualTo(ProviderKeys.MIN_AGE);
        assertThat(ProviderKeys.maxAge("private, s-maxage=60")).isEqualTo(ProviderKeys.DEFAULT_AGE);
        assertThat(ProviderKeys.maxAge(null)).isEqualTo(ProviderKeys.DEFAULT_AGE);
        assertThat(ProviderKeys.maxAge("max-age=abc")).isEqualTo(ProviderKeys.DEFAULT_AGE);
    }
}
