package dev.parley.server.auth.oidc;

import static dev.parley.server.auth.oidc.OidcFlows.LOGIN;
import static dev.parley.server.auth.oidc.OidcFlows.errorCode;
import static dev.parley.server.auth.oidc.OidcFlows.exchange;
import static dev.parley.server.auth.oidc.OidcFlows.pageAfterSignIn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.protocol.Json;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.TestApp;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Each way of cheating the sign-in, over real HTTP: replayed, foreign, expired or forged states; ID tokens that are
 * forged, misaddressed, stale or for another sign-in; unverified emails; replayed and stale one-time codes; stolen
 * authorization codes. Every one ends on the web page with an error and no tokens.
 */
class OidcAttackTest {
    private FakeOpenIdProvider provider;
    private MutableClock clock;
    private TestApp app;

    @BeforeEach
    void start() {
        provider = FakeOpenIdProvider.start();
        clock = new MutableClock(Instant.now());
        app = TestApp.start(OidcFlows.env(provider), clock);
    }

    @AfterEach
    void stop() {
        app.close();
        provider.close();
    }

    @Test
    void oneAddressMayStartThirtySignInsAMinuteSinceEachStoresAPendingLogin() {
        Browser browser = new Browser(app);
        for (int i = 0; i < 30; i++) {
            assertThat(browser.redirectOf(LOGIN)).as("start " + (i + 1)).doesNotStartWith("/#");
        }
        assertThat(Browser.fragment(browser.redirectOf(LOGIN))).containsEntry("oauth_error", "too_many_attempts");
        TestApp.Response api = app.get(LOGIN, null);
        assertThat(api.status()).isEqualTo(429);
        assertThat(errorCode(api)).isEqualTo("too_many_attempts");
        assertThat(Long.parseLong(api.header("Retry-After"))).isBetween(1L, 60L);

        clock.advance(Duration.ofMinutes(1));
        String callback = browser.consentAt(LOGIN);
        assertThat(browser.redirectOf(callback)).startsWith("/#oauth_code=");
    }

    @Test
    void aReplayedStateIsRefused() {
        Browser browser = new Browser(app);
        String callback = browser.consentAt(LOGIN);
        assertThat(browser.redirectOf(callback)).startsWith("/#oauth_code=");

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback));

        assertThat(page).containsEntry("oauth_error", "invalid_state").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).isEqualTo("This sign-in was already finished; please sign in again.");
    }

    @Test
    void aCallbackOpenedInAnotherBrowserIsRefused() {
        // The attacker signs in with their own account and sends the callback link to the victim (login CSRF).
        Browser attacker = new Browser(app);
        String callback = attacker.consentAt(LOGIN);
        Browser victim = new Browser(app);

        Map<String, String> page = Browser.fragment(victim.redirectOf(callback));

        assertThat(page).containsEntry("oauth_error", "invalid_state").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).contains("another browser");
        assertThat(Browser.fragment(attacker.redirectOf(callback))).containsEntry("oauth_error", "invalid_state");
    }

    @Test
    void aStateUnknownHereIsRefused() {
        Browser browser = new Browser(app);
        browser.redirectOf(LOGIN);

        Map<String, String> page = Browser.fragment(browser.redirectOf("/auth/callback?state=forged&code=anything"));

        assertThat(page).containsEntry("oauth_error", "invalid_state");
        assertThat(provider.tokenRequests()).isZero();
    }

    @Test
    void aBadStateIsA400WithTheJsonErrorBodyForClientsThatAreNotBrowsers() {
        TestApp.Response response = app.get("/auth/callback?state=forged&code=anything", null);

        assertThat(response.status()).isEqualTo(400);
        assertThat(errorCode(response)).isEqualTo("invalid_state");
        assertThat(response.json().path("error").path("request_id").asText()).isNotBlank();
        assertThat(app.get("/auth/callback", null).status()).isEqualTo(400);
    }

    @Test
    void aStateOlderThanTenMinutesIsRefused() {
        Browser browser = new Browser(app);
        String callback = browser.consentAt(LOGIN);
        clock.advance(Duration.ofMinutes(10).plusSeconds(1));

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback));

        assertThat(page).containsEntry("oauth_error", "invalid_state");
        assertThat(page.get("message")).contains("expired");
        assertThat(provider.tokenRequests()).isZero();
    }

    @Test
    void aStateJustUnderTenMinutesOldStillWorks() {
        Browser browser = new Browser(app);
        String callback = browser.consentAt(LOGIN);
        clock.advance(Duration.ofMinutes(10).minusSeconds(1));

        assertThat(browser.redirectOf(callback)).startsWith("/#oauth_code=");
    }

    @Test
    void aRepeatedParameterIsRefused() {
        Browser browser = new Browser(app);
        String callback = browser.consentAt(LOGIN);
        String state = FakeOpenIdProvider.form(URI.create(callback).getRawQuery()).get("state");

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback + "&state=" + state));

        assertThat(page).containsEntry("oauth_error", "invalid_request");
    }

    @Test
    void anIdTokenWithTheNonceOfAnotherSignInIsRefused() {
        provider.tamperWithIdTokens(claims -> claims.claim("nonce", "nonce-of-another-sign-in"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenWithoutNonceIsRefused() {
        provider.tamperWithIdTokens(claims -> claims.claim("nonce", null));

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenSignedByAnotherKeyIsRefused() {
        provider.signWithUnpublishedKey();

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anUnsignedIdTokenIsRefused() {
        provider.sendUnsignedIdTokens();

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenSignedWithTheClientSecretIsRefused() {
        provider.signWithClientSecret();

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenForAnotherAudienceIsRefused() {
        provider.tamperWithIdTokens(claims -> claims.audience("another-client"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenForSeveralAudiencesWithoutAuthorizedPartyIsRefused() {
        provider.tamperWithIdTokens(claims -> claims.audience(List.of(FakeOpenIdProvider.CLIENT_ID, "another-client")));

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenAuthorizedForAnotherClientIsRefused() {
        provider.tamperWithIdTokens(claims -> claims.audience(List.of(FakeOpenIdProvider.CLIENT_ID, "another-client"))
                .claim("azp", "another-client"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenForSeveralAudiencesAuthorizedForUsIsAccepted() {
        provider.tamperWithIdTokens(claims -> claims.audience(List.of(FakeOpenIdProvider.CLIENT_ID, "another-client"))
                .claim("azp", FakeOpenIdProvider.CLIENT_ID));

        assertThat(pageAfterSignIn(new Browser(app))).containsKey("oauth_code");
    }

    @Test
    void anIdTokenFromAnotherIssuerIsRefused() {
        provider.tamperWithIdTokens(claims -> claims.issuer("https://evil.example.com"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anExpiredIdTokenIsRefused() {
        Instant past = Instant.now().minus(Duration.ofMinutes(10));
        provider.tamperWithIdTokens(claims -> claims.issueTime(Date.from(past))
                .expirationTime(Date.from(past.plus(Duration.ofMinutes(5)))));

        assertIdTokenRefused(pageAfterSignIn(new Browser(app)));
    }

    @Test
    void anIdTokenExpiredWithinTheAllowedClockSkewIsAccepted() {
        Instant now = Instant.now();
        provider.tamperWithIdTokens(claims -> claims.issueTime(Date.from(now.minusSeconds(300)))
                .expirationTime(Date.from(now.minusSeconds(20))));

        assertThat(pageAfterSignIn(new Browser(app))).containsKey("oauth_code");
    }

    @Test
    void anUnverifiedEmailCannotTakeOverAnExistingPasswordAccount() {
        String email = "victim-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        TestApp.Response registered = register(email);
        String subject = "sub-attacker-" + UUID.randomUUID();
        provider.nextSignIn(new FakeOpenIdProvider.Person(subject, email, false, "Attacker"));

        Map<String, String> page = pageAfterSignIn(new Browser(app));

        assertThat(page).containsEntry("oauth_error", "email_not_verified").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).isEqualTo(OidcFlows.DISPLAY_NAME
                + " has not verified the email address of this account, so it cannot be used to sign in here.");
        // Nothing was linked: the same provider user is refused again, with the claim left out this time.
        provider.nextSignIn(new FakeOpenIdProvider.Person(subject, email, null, "Attacker"));
        assertThat(pageAfterSignIn(new Browser(app))).containsEntry("oauth_error", "email_not_verified");
        TestApp.Response login = app.post("/auth/login",
                Json.write(Json.object().put("email", email).put("password", "correct horse battery staple")), null);
        assertThat(login.json().path("user").path("id").asText())
                .isEqualTo(registered.json().path("user").path("id").asText());
    }

    @Test
    void anUnverifiedEmailDoesNotCreateAnAccount() {
        String email = "squatter-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        provider.nextSignIn(new FakeOpenIdProvider.Person("sub-" + UUID.randomUUID(), email, false, "Squatter"));

        assertThat(pageAfterSignIn(new Browser(app))).containsEntry("oauth_error", "email_not_verified");
        assertThat(register(email).status()).as("the address is still free").isEqualTo(201);
    }

    @Test
    void aOneTimeCodeWorksOnceAndItsReplayRevokesTheSignIn() {
        String code = pageAfterSignIn(new Browser(app)).get("oauth_code");
        TestApp.Response first = exchange(app, code);
        assertThat(first.status()).isEqualTo(200);
        String accessToken = first.json().path("access_token").asText();

        TestApp.Response replay = exchange(app, code);

        assertThat(replay.status()).isEqualTo(400);
        assertThat(errorCode(replay)).isEqualTo("invalid_code");
        TestApp.Response me = app.get("/auth/me", accessToken);
        assertThat(me.status()).isEqualTo(401);
        assertThat(errorCode(me)).isEqualTo("token_revoked");
        TestApp.Response refresh = app.post("/auth/refresh",
                Json.write(Json.object().put("refresh_token", first.json().path("refresh_token").asText())), null);
        assertThat(errorCode(refresh)).isEqualTo("token_revoked");
    }

    @Test
    void aOneTimeCodeExpiresAfterSixtySeconds() {
        String stale = pageAfterSignIn(new Browser(app)).get("oauth_code");
        String fresh = pageAfterSignIn(new Browser(app)).get("oauth_code");
        clock.advance(Duration.ofSeconds(59));
        assertThat(exchange(app, fresh).status()).isEqualTo(200);
        clock.advance(Duration.ofSeconds(2));

        TestApp.Response response = exchange(app, stale);

        assertThat(response.status()).isEqualTo(400);
        assertThat(errorCode(response)).isEqualTo("invalid_code");
    }

    @Test
    void exchangeRefusesMissingAndUnknownCodes() {
        assertThat(errorCode(app.post("/auth/exchange", "{}", null))).isEqualTo("invalid_request");
        assertThat(errorCode(app.post("/auth/exchange", "{\"code\":42}", null))).isEqualTo("invalid_request");
        assertThat(errorCode(app.post("/auth/exchange", "not json", null))).isEqualTo("invalid_json");
        TestApp.Response unknown = exchange(app, "x".repeat(43));
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(errorCode(unknown)).isEqualTo("invalid_code");
        assertThat(errorCode(exchange(app, "x".repeat(5000)))).isEqualTo("invalid_code");
    }

    @Test
    void aStolenAuthorizationCodeIsUselessInAnotherSignInBecauseOfPkce() {
        // The attacker has intercepted the victim's authorization code and injects it into a sign-in of their own.
        Browser victim = new Browser(app);
        String victimCallback = victim.consentAt(LOGIN);
        Browser attacker = new Browser(app);
        String attackerCallback = attacker.consentAt(LOGIN);
        String stolenCode = FakeOpenIdProvider.form(URI.create(victimCallback).getRawQuery()).get("code");
        String attackerState = FakeOpenIdProvider.form(URI.create(attackerCallback).getRawQuery()).get("state");

        Map<String, String> page = Browser.fragment(attacker.redirectOf(
                Browser.REDIRECT_URI + "?code=" + stolenCode + "&state=" + attackerState));

        assertThat(provider.pkceFailures()).isEqualTo(1);
        assertThat(page).containsEntry("oauth_error", "provider_error").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).isEqualTo(OidcFlows.DISPLAY_NAME
                + " could not complete the sign-in; please try again.");
    }

    @Test
    void aCallbackNamingAnotherIssuerIsRefused() {
        Browser browser = new Browser(app);
        String callback = browser.consentAt(LOGIN);

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback + "&iss=https%3A%2F%2Fevil.example.com"));

        assertThat(page).containsEntry("oauth_error", "invalid_state");
        assertThat(provider.tokenRequests()).isZero();
    }

    private TestApp.Response register(String email) {
        TestApp.Response response = app.post("/auth/register",
                Json.write(Json.object().put("email", email).put("password", "correct horse battery staple")), null);
        assertThat(response.status()).as(response.body()).isIn(201, 409);
        return response;
    }

    private static void assertIdTokenRefused(Map<String, String> page) {
        assertThat(page).containsEntry("oauth_error", "invalid_id_token").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).isEqualTo(OidcFlows.DISPLAY_NAME
                + "'s answer could not be verified, so you were not signed in; please try again.");
        assertThat(page.get("request_id")).isNotBlank();
    }
}
