package dev.parley.server.auth.oidc;

import static dev.parley.server.auth.oidc.OidcFlows.LOGIN;
import static dev.parley.server.auth.oidc.OidcFlows.exchange;
import static dev.parley.server.auth.oidc.OidcFlows.signIn;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.TestApp;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Sign-in with an OpenID provider that behaves, end to end over real HTTP: the flow, accounts and caches. */
class OidcSignInTest {
    @RegisterExtension
    final OidcServers oidc = new OidcServers();

    @Test
    void signInGoesThroughTheProviderAndEndsWithATokenPairThatWorks() {
        Browser browser = new Browser(oidc.app());
        String email = "grace-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person("sub-grace", email, true, "Grace Hopper"));

        String toProvider = browser.redirectOf(LOGIN);
        assertThat(toProvider).startsWith(oidc.provider().issuer() + "/authorize?");
        Map<String, String> authorize = FakeOpenIdProvider.form(URI.create(toProvider).getRawQuery());
        assertThat(authorize)
                .containsEntry("response_type", "code")
                .containsEntry("client_id", FakeOpenIdProvider.CLIENT_ID)
                .containsEntry("redirect_uri", Browser.REDIRECT_URI)
                .containsEntry("code_challenge_method", "S256")
                .containsEntry("scope", "openid email profile");
        assertThat(authorize.get("state")).matches("[A-Za-z0-9_-]{43}");
        assertThat(authorize.get("nonce")).matches("[A-Za-z0-9_-]{43}");
        assertThat(authorize.get("code_challenge")).matches("[A-Za-z0-9_-]{43}");
        assertThat(browser.setCookieHeaders()).singleElement().asString()
                .startsWith("parley_oidc=")
                .containsIgnoringCase("HttpOnly")
                .containsIgnoringCase("SameSite=Lax")
                .containsIgnoringCase("Path=/auth")
                .doesNotContainIgnoringCase("Secure");

        String callback = browser.redirectOf(toProvider);
        assertThat(callback).startsWith(Browser.REDIRECT_URI + "?code=");
        String page = browser.redirectOf(callback);
        assertThat(page).matches("/#oauth_code=[A-Za-z0-9_-]{43}");

        TestApp.Response exchanged = exchange(oidc.app(), Browser.fragment(page).get("oauth_code"));
        assertThat(exchanged.status()).as(exchanged.body()).isEqualTo(200);
        assertThat(exchanged.header("Cache-Control")).isEqualTo("no-store");
        JsonNode pair = exchanged.json();
        assertThat(pair.path("token_type").asText()).isEqualTo("Bearer");
        assertThat(pair.path("expires_in").asLong()).isEqualTo(900);
        assertThat(pair.path("user").path("email").asText()).isEqualTo(email);
        assertThat(pair.path("user").path("name").asText()).isEqualTo("Grace Hopper");

        String accessToken = pair.path("access_token").asText();
        TestApp.Response me = oidc.app().get("/auth/me", accessToken);
        assertThat(me.status()).as(me.body()).isEqualTo(200);
        assertThat(me.json().path("email").asText()).isEqualTo(email);
        assertThat(me.json().path("id").asText()).isEqualTo(pair.path("user").path("id").asText());

        TestApp.Response refreshed = oidc.app().post("/auth/refresh",
                Json.write(Json.object().put("refresh_token", pair.path("refresh_token").asText())), null);
        assertThat(refreshed.status()).as(refreshed.body()).isEqualTo(200);

        // No token of ours, and none of the provider's, ever travelled in a URL.
        assertThat(browser.visited()).hasSize(3).noneMatch(url -> url.contains(accessToken)
                || url.contains(pair.path("refresh_token").asText()) || url.contains("id_token")
                || url.contains("access_token"));
    }

    @Test
    void configListsTheConfiguredProvidersInOrder() {
        Map<String, String> env = new HashMap<>(OidcFlows.env(oidc.provider()));
        env.put("PARLEY_OIDC_PROVIDERS", "corp, Google");
        env.put("PARLEY_OIDC_GOOGLE_CLIENT_ID", "google-client");
        env.put("PARLEY_OIDC_GOOGLE_CLIENT_SECRET", "google-secret");
        try (TestApp both = TestApp.start(env)) {
            TestApp.Response config = both.get("/auth/config", null);

            assertThat(config.status()).isEqualTo(200);
            assertThat(config.json().path("providers")).isEqualTo(Json.parse("""
                    [{"id":"corp","name":"Corp SSO","login_url":"/auth/login?provider=corp"},
                     {"id":"google","name":"Google","login_url":"/auth/login?provider=google"}]"""));
            assertThat(config.json().path("dev_login").isBoolean()).isTrue();
            // Listing providers fetches nothing from them.
            assertThat(oidc.provider().discoveryRequests()).isZero();
        }
    }

    @Test
    void returningPersonIsFoundByTheProviderSubjectEvenWithAnotherEmail() {
        String subject = "sub-" + UUID.randomUUID();
        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person(subject, "first@example.org", true, "Ada"));
        String firstId = signIn(oidc.app(), new Browser(oidc.app())).path("user").path("id").asText();

        // The provider now reports another address, not even verified: the subject still names the same person.
        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person(subject, "second@example.org", false, "Ada"));
        JsonNode again = signIn(oidc.app(), new Browser(oidc.app()));

        assertThat(again.path("user").path("id").asText()).isEqualTo(firstId);
        assertThat(again.path("user").path("email").asText()).isEqualTo("first@example.org");
    }

    @Test
    void verifiedEmailLinksToTheExistingPasswordAccount() {
        String email = "linked-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        TestApp.Response registered = oidc.app().post("/auth/register",
                Json.write(Json.object().put("email", email).put("password", "correct horse battery staple")), null);
        assertThat(registered.status()).isEqualTo(201);
        String accountId = registered.json().path("user").path("id").asText();

        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person("sub-" + UUID.randomUUID(), email.toUpperCase(), true, "X"));
        JsonNode pair = signIn(oidc.app(), new Browser(oidc.app()));

        assertThat(pair.path("user").path("id").asText()).isEqualTo(accountId);
        TestApp.Response password = oidc.app().post("/auth/login",
                Json.write(Json.object().put("email", email).put("password", "correct horse battery staple")), null);
        assertThat(password.status()).as("the password still works").isEqualTo(200);
    }

    @Test
    void emailVerifiedAsTheStringTrueCountsAsVerified() {
        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person("sub-" + UUID.randomUUID(), "string@example.org", "true", "S"));

        assertThat(signIn(oidc.app(), new Browser(oidc.app())).path("user").path("email").asText())
                .isEqualTo("string@example.org");
    }

    @Test
    void discoveryDocumentAndKeysAreFetchedOnceAndKept() {
        for (int i = 0; i < 3; i++) {
            oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("cached-" + i + "@example.org"));
            signIn(oidc.app(), new Browser(oidc.app()));
        }

        assertThat(oidc.provider().discoveryRequests()).isEqualTo(1);
        assertThat(oidc.provider().keyRequests()).isEqualTo(1);
        assertThat(oidc.provider().tokenRequests()).isEqualTo(3);
    }

    @Test
    void aTokenSignedWithAnUnknownKeyIdMakesTheServerFetchTheKeysAgain() {
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("before@example.org"));
        signIn(oidc.app(), new Browser(oidc.app()));
        oidc.provider().rotateKey();
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("after@example.org"));

        JsonNode pair = signIn(oidc.app(), new Browser(oidc.app()));

        assertThat(pair.path("user").path("email").asText()).isEqualTo("after@example.org");
        assertThat(oidc.provider().keyRequests()).isEqualTo(2);
    }

    @Test
    void es256IdTokensVerifyAgainstThePublishedKeyAndItsRotation() {
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("rsa@example.org"));
        signIn(oidc.app(), new Browser(oidc.app()));
        int fetched = oidc.provider().keyRequests();
        oidc.provider().signWithNewEcKey();
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("ec@example.org"));
        assertThat(signIn(oidc.app(), new Browser(oidc.app())).path("user").path("email").asText()).isEqualTo("ec@example.org");
        oidc.provider().signWithNewEcKey();
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("ec-rotated@example.org"));
        assertThat(signIn(oidc.app(), new Browser(oidc.app())).path("user").path("email").asText())
                .isEqualTo("ec-rotated@example.org");
        // Each new key id made the server fetch the key set again, once.
        assertThat(oidc.provider().keyRequests()).isEqualTo(fetched + 2);
    }

    @Test
    void keysAreKeptForTheMaxAgeTheProviderGives() {
        MutableClock clock = new MutableClock(Instant.now());
        oidc.provider().cacheKeysFor("public, max-age=120, must-revalidate");
        try (TestApp timed = TestApp.start(OidcFlows.env(oidc.provider()), clock)) {
            oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("first@example.org"));
            signIn(timed, new Browser(timed));
            int fetched = oidc.provider().keyRequests();
            clock.advance(Duration.ofSeconds(119));
            oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("kept@example.org"));
            signIn(timed, new Browser(timed));
            assertThat(oidc.provider().keyRequests()).isEqualTo(fetched);
            clock.advance(Duration.ofSeconds(2));
            oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("refetched@example.org"));
            signIn(timed, new Browser(timed));
            assertThat(oidc.provider().keyRequests()).isEqualTo(fetched + 1);
        }
    }

    @Test
    void clientSecretPostIsUsedWhenTheProviderAdvertisesOnlyThat() {
        try (FakeOpenIdProvider postOnly = FakeOpenIdProvider.start(FakeOpenIdProvider.ClientAuth.POST);
             TestApp postApp = TestApp.start(OidcFlows.env(postOnly))) {
            postOnly.nextSignIn(FakeOpenIdProvider.Person.verified("post@example.org"));

            assertThat(signIn(postApp, new Browser(postApp)).path("user").path("email").asText())
                    .isEqualTo("post@example.org");
        }
    }

    @Test
    void signInsStartedInTwoTabsOfOneBrowserBothFinish() {
        Browser browser = new Browser(oidc.app());
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("tab1@example.org"));
        String first = browser.consentAt(LOGIN);
        oidc.provider().nextSignIn(FakeOpenIdProvider.Person.verified("tab2@example.org"));
        String second = browser.consentAt(LOGIN);

        List<String> pages = List.of(browser.redirectOf(second), browser.redirectOf(first));

        assertThat(pages).allSatisfy(page -> assertThat(page).startsWith("/#oauth_code="));
        assertThat(exchange(oidc.app(), Browser.fragment(pages.get(1)).get("oauth_code")).json()
                .path("user").path("email").asText()).isEqualTo("tab1@example.org");
    }

    @Test
    void theOnlyConfiguredProviderIsUsedWhenLoginNamesNone() {
        Browser browser = new Browser(oidc.app());

        assertThat(browser.redirectOf("/auth/login")).startsWith(oidc.provider().issuer() + "/authorize?");
    }

    @Test
    void theCookieIsSecureWhenTheRedirectUriIsHttps() {
        Map<String, String> env = new HashMap<>(OidcFlows.env(oidc.provider()));
        env.put("PARLEY_OIDC_REDIRECT_URI", "https://chat.example.com/auth/callback");
        try (TestApp secure = TestApp.start(env)) {
            Browser browser = new Browser(secure);
            String toProvider = browser.redirectOf(LOGIN);

            assertThat(browser.setCookieHeaders()).singleElement().asString().contains("; Secure");
            assertThat(FakeOpenIdProvider.form(URI.create(toProvider).getRawQuery()))
                    .containsEntry("redirect_uri", "https://chat.example.com/auth/callback");
        }
    }
}
