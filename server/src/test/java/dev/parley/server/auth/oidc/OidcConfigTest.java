package dev.parley.server.auth.oidc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.server.config.Config;
import dev.parley.server.config.ConfigException;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The PARLEY_OIDC_* variables: providers, their per-provider variables, the redirect URI and their checks. */
class OidcConfigTest {
    @Test
    void noProvidersByDefault() {
        Config.Oidc oidc = Config.from(Map.of()).oidc();

        assertThat(oidc.providers()).isEmpty();
        assertThat(oidc.redirectUri()).isEmpty();
        assertThat(oidc.httpTimeout()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void providersAreReadFromTheirOwnVariablesAndGoogleNeedsNoIssuer() {
        Config config = Config.from(Map.of(
                "PARLEY_OIDC_PROVIDERS", " google , Corp ",
                "PARLEY_OIDC_GOOGLE_CLIENT_ID", "g-id",
                "PARLEY_OIDC_GOOGLE_CLIENT_SECRET", "g-secret",
                "PARLEY_OIDC_CORP_ISSUER", "https://login.corp.example/realms/staff",
                "PARLEY_OIDC_CORP_CLIENT_ID", "c-id",
                "PARLEY_OIDC_CORP_CLIENT_SECRET", "c-secret",
                "PARLEY_OIDC_CORP_DISPLAY_NAME", "Corp staff",
                "PARLEY_OIDC_REDIRECT_URI", "https://chat.example.com/auth/callback",
                "PARLEY_OIDC_HTTP_TIMEOUT", "2s"));

        assertThat(config.oidc().providers()).containsExactly(
                new Config.OidcProvider("google", "Google", URI.create("https://accounts.google.com"), "g-id", "g-secret"),
                new Config.OidcProvider("corp", "Corp staff", URI.create("https://login.corp.example/realms/staff"),
                        "c-id", "c-secret"));
        assertThat(config.oidc().redirectUri()).contains(URI.create("https://chat.example.com/auth/callback"));
        assertThat(config.oidc().httpTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.summary()).contains("oidc=google,corp").doesNotContain("g-secret").doesNotContain("c-secret");
        assertThat(config.oidc().providers().getFirst().toString()).doesNotContain("g-secret");
    }

    @Test
    void theRedirectUriDefaultsToThePublicUrl() {
        Map<String, String> env = google();
        env.remove("PARLEY_OIDC_REDIRECT_URI");
        env.put("PARLEY_PUBLIC_URL", "https://chat.example.com/");

        assertThat(Config.from(env).oidc().redirectUri()).contains(URI.create("https://chat.example.com/auth/callback"));
    }

    @Test
    void everyMissingOrWrongProviderVariableIsReportedNamingIt() {
        assertThatThrownBy(() -> Config.from(Map.of(
                "PARLEY_OIDC_PROVIDERS", "corp,okta,9lives,corp",
                "PARLEY_OIDC_OKTA_ISSUER", "http://okta.example.com",
                "PARLEY_OIDC_OKTA_CLIENT_ID", "id",
                "PARLEY_OIDC_OKTA_CLIENT_SECRET", "secret")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_OIDC_CORP_ISSUER:").contains("required"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_OIDC_CORP_CLIENT_ID:"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_OIDC_CORP_CLIENT_SECRET:"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_OIDC_OKTA_ISSUER:").contains("https"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_OIDC_PROVIDERS:").contains("9lives"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_OIDC_PROVIDERS:").contains("twice"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_OIDC_REDIRECT_URI:").contains("required"))
                        .hasSize(7));
    }

    @Test
    void anHttpIssuerIsAllowedOnLocalhostOnly() {
        Map<String, String> env = google();
        env.put("PARLEY_OIDC_PROVIDERS", "local");
        env.put("PARLEY_OIDC_LOCAL_ISSUER", "http://127.0.0.1:8090");
        env.put("PARLEY_OIDC_LOCAL_CLIENT_ID", "id");
        env.put("PARLEY_OIDC_LOCAL_CLIENT_SECRET", "secret");

        assertThat(Config.from(env).oidc().provider("local")).get()
                .extracting(Config.OidcProvider::issuer).isEqualTo(URI.create("http://127.0.0.1:8090"));
    }

    @Test
    void aRedirectUriWithAFragmentIsRefused() {
        Map<String, String> env = google();
        env.put("PARLEY_OIDC_REDIRECT_URI", "https://chat.example.com/auth/callback#x");

        assertThatThrownBy(() -> Config.from(env)).hasMessageContaining("PARLEY_OIDC_REDIRECT_URI: must be an absolute URL");
    }

    @Test
    void theDocumentedPatternsAreThePerProviderVariables() {
        assertThat(Config.variablePatterns()).containsExactly("PARLEY_OIDC_<NAME>_ISSUER",
                "PARLEY_OIDC_<NAME>_CLIENT_ID", "PARLEY_OIDC_<NAME>_CLIENT_SECRET", "PARLEY_OIDC_<NAME>_DISPLAY_NAME");
        assertThat(Config.variables()).contains("PARLEY_OIDC_PROVIDERS", "PARLEY_OIDC_REDIRECT_URI",
                "PARLEY_OIDC_HTTP_TIMEOUT").noneMatch(name -> name.startsWith("PARLEY_OIDC_NAME_"));
    }

    private static Map<String, String> google() {
        Map<String, String> env = new HashMap<>();
        env.put("PARLEY_OIDC_PROVIDERS", "google");
        env.put("PARLEY_OIDC_GOOGLE_CLIENT_ID", "g-id");
        env.put("PARLEY_OIDC_GOOGLE_CLIENT_SECRET", "g-secret");
        env.put("PARLEY_OIDC_REDIRECT_URI", "https://chat.example.com/auth/callback");
        return env;
    }
}
