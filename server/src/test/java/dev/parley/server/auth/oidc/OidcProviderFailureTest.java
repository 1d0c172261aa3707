package dev.parley.server.auth.oidc;

import static dev.parley.server.auth.oidc.OidcFlows.LOGIN;
import static dev.parley.server.auth.oidc.OidcFlows.errorCode;
import static dev.parley.server.auth.oidc.OidcFlows.pageAfterSignIn;
import static dev.parley.server.auth.oidc.OidcFlows.signIn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.protocol.Json;
import dev.parley.server.testing.TestApp;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the person signing in sees when the provider says no, is down or is slow, or when the server will not take
 * them: a plain sentence on the web page (or, for clients that are not browsers, the JSON error body), never a stack
 * trace or a raw exception.
 */
class OidcProviderFailureTest {
    private FakeOpenIdProvider provider;
    private TestApp app;

    @BeforeEach
    void start() {
        provider = FakeOpenIdProvider.start();
        app = TestApp.start(OidcFlows.env(provider));
    }

    @AfterEach
    void stop() {
        app.close();
        provider.close();
    }

    @Test
    void deniedConsentEndsOnThePageWithAPlainMessage() {
        provider.failNextAuthorization("access_denied");

        Map<String, String> page = pageAfterSignIn(new Browser(app));

        assertThat(page).containsEntry("oauth_error", "access_denied")
                .containsEntry("message", "You cancelled the sign-in at Corp SSO.")
                .doesNotContainKey("oauth_code");
        assertThat(provider.tokenRequests()).isZero();
    }

    @Test
    void anotherAuthorizationErrorEndsOnThePageAsAProviderError() {
        provider.failNextAuthorization("temporarily_unavailable");

        Map<String, String> page = pageAfterSignIn(new Browser(app));

        assertThat(page).containsEntry("oauth_error", "provider_error");
        assertPlain(page.get("message"));
    }

    @Test
    void anUnreachableProviderEndsOnThePageWithAPlainMessage() {
        Map<String, String> env = OidcFlows.env(provider, Map.of("PARLEY_OIDC_CORP_ISSUER", FakeOpenIdProvider.unreachableUrl()));
        try (TestApp down = TestApp.start(env)) {
            Map<String, String> page = Browser.fragment(new Browser(down).redirectOf(LOGIN));

            assertThat(page).containsEntry("oauth_error", "upstream_unavailable")
                    .containsEntry("message", "Corp SSO cannot be reached right now; please try again in a moment.");
            assertThat(page.get("request_id")).isNotBlank();

            TestApp.Response api = down.get(LOGIN, null);
            assertThat(api.status()).isEqualTo(503);
            assertThat(errorCode(api)).isEqualTo("upstream_unavailable");
        }
    }

    @Test
    void aProviderThatDoesNotAnswerWithinTheTimeoutCountsAsUnavailable() {
        try (TestApp impatient = TestApp.start(OidcFlows.env(provider, Map.of("PARLEY_OIDC_HTTP_TIMEOUT", "300ms")))) {
            provider.stallDiscovery();
            try {
                Map<String, String> page = Browser.fragment(new Browser(impatient).redirectOf(LOGIN));

                assertThat(page).containsEntry("oauth_error", "upstream_unavailable");
            } finally {
                provider.releaseDiscovery();
            }
        }
    }

    @Test
    void anUnreachableTokenEndpointEndsOnThePage() {
        provider.takeTokenEndpointDown();

        Map<String, String> page = pageAfterSignIn(new Browser(app));

        assertThat(page).containsEntry("oauth_error", "upstream_unavailable")
                .containsEntry("message", "Corp SSO cannot be reached right now; please try again in a moment.");
    }

    @Test
    void aProviderThatComesBackIsUsedAgain() {
        provider.breakDiscovery(true);
        assertThat(Browser.fragment(new Browser(app).redirectOf(LOGIN)))
                .containsEntry("oauth_error", "upstream_unavailable");

        // A failed discovery is not remembered: the next sign-in asks again.
        provider.breakDiscovery(false);
        provider.nextSignIn(FakeOpenIdProvider.Person.verified("recovered@example.org"));
        assertThat(signIn(app, new Browser(app)).path("user").path("email").asText()).isEqualTo("recovered@example.org");
    }

    @Test
    void anUnknownProviderEndsOnThePageOrIsA400() {
        Map<String, String> page = Browser.fragment(new Browser(app).redirectOf("/auth/login?provider=nope"));

        assertThat(page).containsEntry("oauth_error", "unknown_provider")
                .containsEntry("message", "This sign-in provider is not configured on this server.");
        TestApp.Response api = app.get("/auth/login?provider=nope", null);
        assertThat(api.status()).isEqualTo(400);
        assertThat(errorCode(api)).isEqualTo("unknown_provider");
        assertThat(provider.discoveryRequests()).isZero();
    }

    @Test
    void withoutProvidersLoginIsRefusedAndConfigListsNone() {
        try (TestApp plain = TestApp.start()) {
            assertThat(plain.get("/auth/config", null).json().path("providers")).isEmpty();
            TestApp.Response login = plain.get("/auth/login?provider=google", null);
            assertThat(login.status()).isEqualTo(400);
            assertThat(errorCode(login)).isEqualTo("unknown_provider");
            assertThat(errorCode(plain.get("/auth/login", null))).isEqualTo("invalid_request");
        }
    }

    @Test
    void aClosedServerRefusesNewAccountsButStillLinksExistingOnes() {
        String email = "member-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        assertThat(app.post("/auth/register",
                Json.write(Json.object().put("email", email).put("password", "correct horse battery staple")), null)
                .status()).isEqualTo(201);
        try (TestApp closed = TestApp.start(OidcFlows.env(provider, Map.of("PARLEY_REGISTRATION_OPEN", "false")))) {
            provider.nextSignIn(FakeOpenIdProvider.Person.verified("stranger@example.org"));
            Map<String, String> page = pageAfterSignIn(new Browser(closed));
            assertThat(page).containsEntry("oauth_error", "registration_closed");
            assertPlain(page.get("message"));
        }
        app.close();
        try (TestApp closedWithMember = TestApp.start(OidcFlows.env(provider,
                Map.of("PARLEY_REGISTRATION_OPEN", "false", "PARLEY_DATA_DIR", app.dataDir().toString())))) {
            provider.nextSignIn(FakeOpenIdProvider.Person.verified(email));
            assertThat(signIn(closedWithMember, new Browser(closedWithMember)).path("user").path("email").asText())
                    .isEqualTo(email);
        }
    }

    private static void assertPlain(String message) {
        assertThat(message).isNotBlank().endsWith(".").hasSizeLessThan(200)
                .doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("127.0.0.1").doesNotContain("{");
    }
}
