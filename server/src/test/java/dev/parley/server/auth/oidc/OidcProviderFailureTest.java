package dev.parley.server.auth.oidc;

import static dev.parley.server.auth.oidc.OidcFlows.LOGIN;
import static dev.parley.server.auth.oidc.OidcFlows.pageAfterSignIn;
import static dev.parley.server.auth.oidc.OidcFlows.signIn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.protocol.Json;
import dev.parley.server.testing.TestApp;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the person signing in sees when the provider says no, is down or is slow, or when the server will not take
 * them: a plain sentence on the web page (or, for clients that are not browsers, the JSON error body), never a stack
 * trace or a raw exception.
 */
class OidcProviderFailureTest {
    @RegisterExtension
    final OidcServers oidc = new OidcServers();

    @Test
    void deniedConsentEndsOnThePageWithAPlainMessage() {
        oidc.provider().failNextAuthorization("access_denied");

        Map<String, String> page = pageAfterSignIn(new Browser(oidc.app()));

        assertThat(page).containsEntry("oauth_error", "access_denied")
                .containsEntry("message", "You cancelled the sign-in at Corp SSO.")
                .doesNotContainKey("oauth_code");
        assertThat(oidc.provider().tokenRequests()).isZero();
    }

    @Test
    void anotherAuthorizationErrorEndsOnThePageAsAProviderError() {
        oidc.provider().failNextAuthorization("temporarily_unavailable");

        Map<String, String> page = pageAfterSignIn(new Browser(oidc.app()));

        assertThat(page).containsEntry("oauth_error", "provider_error");
        assertPlain(page.get("message"));
    }

    @Test
    void anUnreachableProviderEndsOnThePageWithAPlainMessage() {
        Map<String, String> env = OidcFlows.env(oidc.provider(),
                Map.of("PARLEY_OIDC_CORP_ISSUER", FakeOpenIdProvider.unreachableUrl()));
        try (TestApp down = TestApp.start(env)) {
            Map<String, String> page = Browser.fragment(new Browser(down).redirectOf(LOGIN));

            assertThat(page).containsEntry("oauth_error", "upstream_unavailable")
                    .containsEntry("message", "Corp SSO cannot be reached right now; please try again in a moment.");
            assertThat(page.get("request_id")).isNotBlank();

            TestApp.Response api = down.get(LOGIN, null);
            assertThat(api.status()).isEqualTo(503);
            assertThat(api.errorCode()).isEqualTo("upstream_unavailable");
        }
    }

    @Test
    void aProviderThatDoesNotAnswerWithinTheTimeoutCountsAsUnavailable() {
        try (TestApp impatient = TestApp.start(OidcFlows.env(oidc.provider(), Map.of("PARLEY_OIDC_HTTP_TIMEOUT", "300ms")))) {
            oidc.provider().stallDiscovery();
            try {
                Map<String, String> page = Browser.fragment(new Browser(impatient).redirectOf(LOGIN));

                assertThat(page).containsEntry("oauth_error", "upstream_unavailable");
            } finally {
                oidc.provider().releaseDiscovery();
            }
        }
    }

    @Test
    void anUnreachableTokenEndpointEndsOnThePage() {
        oidc.provider().takeTokenEndpointDown();

        Map<String, String> page = pageAfterSignIn(new Browser(oidc.app()));

        assertThat(page).containsEntry("oauth_error", "upstream_unavailable")
                .containsEntry("message", "Corp SSO cannot be reached right now; please try again in a moment.");
    }

    @Test
    void aProviderThatComesBackIsUsedAgain() {
        oidc.provider().breakDiscovery(true);
        assertThat(Browser.fragment(new Browser(oidc.app()).redirectOf(LOGIN)))
                .containsEntry("oauth_error", "upstream_unavailable");

        // A failed discovery is not remembered: the next sign-in asks again.
        oidc.provider().breakDiscovery(false);
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("recovered@example.org"));
        assertThat(signIn(oidc.app(), new Browser(oidc.app())).path("user").path("email").asText())
                .isEqualTo("recovered@example.org");
    }

    @Test
    void anUnknownProviderEndsOnThePageOrIsA400() {
        Map<String, String> page = Browser.fragment(new Browser(oidc.app()).redirectOf("/auth/login?provider=nope"));

        assertThat(page).containsEntry("oauth_error", "unknown_provider")
                .containsEntry("message", "This sign-in provider is not configured on this server.");
        TestApp.Response api = oidc.app().get("/auth/login?provider=nope", null);
        assertThat(api.status()).isEqualTo(400);
        assertThat(api.errorCode()).isEqualTo("unknown_provider");
        assertThat(oidc.provider().discoveryRequests()).isZero();
    }

    @Test
    void withoutProvidersLoginIsRefusedAndConfigListsNone() {
        try (TestApp plain = TestApp.start()) {
            assertThat(plain.get("/auth/config", null).json().path("providers")).isEmpty();
            TestApp.Response login = plain.get("/auth/login?provider=google", null);
            assertThat(login.status()).isEqualTo(400);
            assertThat(login.errorCode()).isEqualTo("unknown_provider");
            assertThat(plain.get("/auth/login", null).errorCode()).isEqualTo("invalid_request");
        }
    }

    @Test
    void aClosedServerRefusesNewAccountsButStillLinksExistingOnes() {
        String email = "member-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        assertThat(oidc.app().post("/auth/register",
                Json.write(Json.object().put("email", email).put("password", "correct horse battery staple")), null)
                .status()).isEqualTo(201);
        try (TestApp closed = TestApp.start(OidcFlows.env(oidc.provider(), Map.of("PARLEY_REGISTRATION_OPEN", "false")))) {
            oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("stranger@example.org"));
            Map<String, String> page = pageAfterSignIn(new Browser(closed));
            assertThat(page).containsEntry("oauth_error", "registration_closed");
            assertPlain(page.get("message"));
        }
        oidc.app().close();
        try (TestApp closedWithMember = TestApp.start(OidcFlows.env(oidc.provider(),
                Map.of("PARLEY_REGISTRATION_OPEN", "false", "PARLEY_DATA_DIR", oidc.app().dataDir().toString())))) {
            oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified(email));
            assertThat(signIn(closedWithMember, new Browser(closedWithMember)).path("user").path("email").asText())
                    .isEqualTo(email);
        }
    }

    private static void assertPlain(String message) {
        assertThat(message).isNotBlank().endsWith(".").hasSizeLessThan(200)
                .doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("127.0.0.1").doesNotContain("{");
    }
}
