package dev.parley.server.auth.oidc;

import static dev.parley.server.auth.oidc.OidcFlows.LOGIN;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Each way of cheating the sign-in, over real HTTP: replayed, foreign, expired or forged states; ID tokens that are
 * forged, misaddressed, stale or for another sign-in; unverified emails; replayed and stale one-time codes; stolen
 * authorization codes. Every one ends on the web page with an error and no tokens.
 */
class OidcAttackTest {
    private final MutableClock clock = new MutableClock(Instant.now());

    @RegisterExtension
    final OidcServers oidc = new OidcServers(clock, Map::of);

    @Test
    void oneAddressMayStartThirtySignInsAMinuteSinceEachStoresAPendingLogin() {
        Browser browser = new Browser(oidc.app());
        for (int i = 0; i < 30; i++) {
            assertThat(browser.redirectOf(LOGIN)).as("start " + (i + 1)).doesNotStartWith("/#");
        }
        assertThat(Browser.fragment(browser.redirectOf(LOGIN))).containsEntry("oauth_error", "too_many_attempts");
        TestApp.Response api = oidc.app().get(LOGIN, null);
        assertThat(api.status()).isEqualTo(429);
        assertThat(api.errorCode()).isEqualTo("too_many_attempts");
        assertThat(Long.parseLong(api.header("Retry-After"))).isBetween(1L, 60L);

        clock.advance(Duration.ofMinutes(1));
        String callback = browser.consentAt(LOGIN);
        assertThat(browser.redirectOf(callback)).startsWith("/#oauth_code=");
    }

    @Test
    void aReplayedStateIsRefused() {
        Browser browser = new Browser(oidc.app());
        String callback = browser.consentAt(LOGIN);
        assertThat(browser.redirectOf(callback)).startsWith("/#oauth_code=");

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback));

        assertThat(page).containsEntry("oauth_error", "invalid_state").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).isEqualTo("This sign-in was already finished; please sign in again.");
    }

    @Test
    void aCallbackOpenedInAnotherBrowserIsRefused() {
        // The attacker signs in with their own account and sends the callback link to the victim (login CSRF).
        Browser attacker = new Browser(oidc.app());
        String callback = attacker.consentAt(LOGIN);
        Browser victim = new Browser(oidc.app());

        Map<String, String> page = Browser.fragment(victim.redirectOf(callback));

        assertThat(page).containsEntry("oauth_error", "invalid_state").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).contains("another browser");
        assertThat(Browser.fragment(attacker.redirectOf(callback))).containsEntry("oauth_error", "invalid_state");
    }

    @Test
    void aStateUnknownHereIsRefused() {
        Browser browser = new Browser(oidc.app());
        browser.redirectOf(LOGIN);

        Map<String, String> page = Browser.fragment(browser.redirectOf("/auth/callback?state=forged&code=anything"));

        assertThat(page).containsEntry("oauth_error", "invalid_state");
        assertThat(oidc.provider().tokenRequests()).isZero();
    }

    @Test
    void aBadStateIsA400WithTheJsonErrorBodyForClientsThatAreNotBrowsers() {
        TestApp.Response response = oidc.app().get("/auth/callback?state=forged&code=anything", null);

        assertThat(response.status()).isEqualTo(400);
        assertThat(response.errorCode()).isEqualTo("invalid_state");
        assertThat(response.json().path("error").path("request_id").asText()).isNotBlank();
        assertThat(oidc.app().get("/auth/callback", null).status()).isEqualTo(400);
    }

    @Test
    void aStateOlderThanTenMinutesIsRefused() {
        Browser browser = new Browser(oidc.app());
        String callback = browser.consentAt(LOGIN);
        clock.advance(Duration.ofMinutes(10).plusSeconds(1));

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback));

        assertThat(page).containsEntry("oauth_error", "invalid_state");
        assertThat(page.get("message")).contains("expired");
        assertThat(oidc.provider().tokenRequests()).isZero();
    }

    @Test
    void aStateJustUnderTenMinutesOldStillWorks() {
        Browser browser = new Browser(oidc.app());
        String callback = browser.consentAt(LOGIN);
        clock.advance(Duration.ofMinutes(10).minusSeconds(1));

        assertThat(browser.redirectOf(callback)).startsWith("/#oauth_code=");
    }

    @Test
    void aRepeatedParameterIsRefused() {
        Browser browser = new Browser(oidc.app());
        String callback = browser.consentAt(LOGIN);
        String state = FakeOpenIdProvider.form(URI.create(callback).getRawQuery()).get("state");

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback + "&state=" + state));

        assertThat(page).containsEntry("oauth_error", "invalid_request");
    }

    @Test
    void anIdTokenWithTheNonceOfAnotherSignInIsRefused() {
        oidc.provider().tamperWithIdTokens(claims -> claims.claim("nonce", "nonce-of-another-sign-in"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenWithoutNonceIsRefused() {
        oidc.provider().tamperWithIdTokens(claims -> claims.claim("nonce", null));

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenSignedByAnotherKeyIsRefused() {
        oidc.provider().signWithUnpublishedKey();

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anUnsignedIdTokenIsRefused() {
        oidc.provider().sendUnsignedIdTokens();

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenSignedWithTheClientSecretIsRefused() {
        oidc.provider().signWithClientSecret();

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenForAnotherAudienceIsRefused() {
        oidc.provider().tamperWithIdTokens(claims -> claims.audience("another-client"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenForSeveralAudiencesWithoutAuthorizedPartyIsRefused() {
        oidc.provider().tamperWithIdTokens(claims -> claims.audience(List.of(FakeOpenIdProvider.CLIENT_ID, "another-client")));

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenAuthorizedForAnotherClientIsRefused() {
        oidc.provider().tamperWithIdTokens(claims -> claims.audience(List.of(FakeOpenIdProvider.CLIENT_ID, "another-client"))
                .claim("azp", "another-client"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenForSeveralAudiencesAuthorizedForUsIsAccepted() {
        oidc.provider().tamperWithIdTokens(claims -> claims.audience(List.of(FakeOpenIdProvider.CLIENT_ID, "another-client"))
                .claim("azp", FakeOpenIdProvider.CLIENT_ID));

        assertThat(pageAfterSignIn(new Browser(oidc.app()))).containsKey("oauth_code");
    }

    @Test
    void anIdTokenFromAnotherIssuerIsRefused() {
        oidc.provider().tamperWithIdTokens(claims -> claims.issuer("https://evil.example.com"));

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anExpiredIdTokenIsRefused() {
        Instant past = Instant.now().minus(Duration.ofMinutes(10));
        oidc.provider().tamperWithIdTokens(claims -> claims.issueTime(Date.from(past))
                .expirationTime(Date.from(past.plus(Duration.ofMinutes(5)))));

        assertIdTokenRefused(pageAfterSignIn(new Browser(oidc.app())));
    }

    @Test
    void anIdTokenExpiredWithinTheAllowedClockSkewIsAccepted() {
        Instant now = Instant.now();
        oidc.provider().tamperWithIdTokens(claims -> claims.issueTime(Date.from(now.minusSeconds(300)))
                .expirationTime(Date.from(now.minusSeconds(20))));

        assertThat(pageAfterSignIn(new Browser(oidc.app()))).containsKey("oauth_code");
    }

    @Test
    void anUnverifiedEmailCannotTakeOverAnExistingPasswordAccount() {
        String email = "victim-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        TestApp.Response registered = register(email);
        String subject = "sub-attacker-" + UUID.randomUUID();
        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person(subject, email, false, "Attacker"));

        Map<String, String> page = pageAfterSignIn(new Browser(oidc.app()));

        assertThat(page).containsEntry("oauth_error", "email_not_verified").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).isEqualTo(OidcFlows.DISPLAY_NAME
                + " has not verified the email address of this account, so it cannot be used to sign in here.");
        // Nothing was linked: the same provider user is refused again, with the claim left out this time.
        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person(subject, email, null, "Attacker"));
        assertThat(pageAfterSignIn(new Browser(oidc.app()))).containsEntry("oauth_error", "email_not_verified");
        TestApp.Response login = oidc.app().post("/auth/login",
                Json.write(Json.object().put("email", email).put("password", "correct horse battery staple")), null);
        assertThat(login.json().path("user").path("id").asText())
                .isEqualTo(registered.json().path("user").path("id").asText());
    }

    @Test
    void anUnverifiedEmailDoesNotCreateAnAccount() {
        String email = "squatter-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
        oidc.provider().nextSignIn(new FakeOpenIdProvider.Person("sub-" + UUID.randomUUID(), email, false, "Squatter"));

        assertThat(pageAfterSignIn(new Browser(oidc.app()))).containsEntry("oauth_error", "email_not_verified");
        assertThat(register(email).status()).as("the address is still free").isEqualTo(201);
    }

    @Test
    void aOneTimeCodeWorksOnceAndItsReplayRevokesTheSignIn() {
        String code = pageAfterSignIn(new Browser(oidc.app())).get("oauth_code");
        TestApp.Response first = exchange(oidc.app(), code);
        assertThat(first.status()).isEqualTo(200);
        String accessToken = first.json().path("access_token").asText();

        TestApp.Response replay = exchange(oidc.app(), code);

        assertThat(replay.status()).isEqualTo(400);
        assertThat(replay.errorCode()).isEqualTo("invalid_code");
        TestApp.Response me = oidc.app().get("/auth/me", accessToken);
        assertThat(me.status()).isEqualTo(401);
        assertThat(me.errorCode()).isEqualTo("token_revoked");
        TestApp.Response refresh = oidc.app().post("/auth/refresh",
                Json.write(Json.object().put("refresh_token", first.json().path("refresh_token").asText())), null);
        assertThat(refresh.errorCode()).isEqualTo("token_revoked");
    }

    @Test
    void aOneTimeCodeExpiresAfterSixtySeconds() {
        String stale = pageAfterSignIn(new Browser(oidc.app())).get("oauth_code");
        String fresh = pageAfterSignIn(new Browser(oidc.app())).get("oauth_code");
        clock.advance(Duration.ofSeconds(59));
        assertThat(exchange(oidc.app(), fresh).status()).isEqualTo(200);
        clock.advance(Duration.ofSeconds(2));

        TestApp.Response response = exchange(oidc.app(), stale);

        assertThat(response.status()).isEqualTo(400);
        assertThat(response.errorCode()).isEqualTo("invalid_code");
    }

    @Test
    void exchangeRefusesMissingAndUnknownCodes() {
        assertThat(oidc.app().post("/auth/exchange", "{}", null).errorCode()).isEqualTo("invalid_request");
        assertThat(oidc.app().post("/auth/exchange", "{\"code\":42}", null).errorCode()).isEqualTo("invalid_request");
        assertThat(oidc.app().post("/auth/exchange", "not json", null).errorCode()).isEqualTo("invalid_json");
        TestApp.Response unknown = exchange(oidc.app(), "x".repeat(43));
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(unknown.errorCode()).isEqualTo("invalid_code");
        assertThat(exchange(oidc.app(), "x".repeat(5000)).errorCode()).isEqualTo("invalid_code");
    }

    @Test
    void aStolenAuthorizationCodeIsUselessInAnotherSignInBecauseOfPkce() {
        // The attacker has intercepted the victim's authorization code and injects it into a sign-in of their own.
        Browser victim = new Browser(oidc.app());
        String victimCallback = victim.consentAt(LOGIN);
        Browser attacker = new Browser(oidc.app());
        String attackerCallback = attacker.consentAt(LOGIN);
        String stolenCode = FakeOpenIdProvider.form(URI.create(victimCallback).getRawQuery()).get("code");
        String attackerState = FakeOpenIdProvider.form(URI.create(attackerCallback).getRawQuery()).get("state");

        Map<String, String> page = Browser.fragment(attacker.redirectOf(
                Browser.REDIRECT_URI + "?code=" + stolenCode + "&state=" + attackerState));

        assertThat(oidc.provider().pkceFailures()).isEqualTo(1);
        assertThat(page).containsEntry("oauth_error", "provider_error").doesNotContainKey("oauth_code");
        assertThat(page.get("message")).isEqualTo(OidcFlows.DISPLAY_NAME
                + " could not complete the sign-in; please try again.");
    }

    @Test
    void aCallbackNamingAnotherIssuerIsRefused() {
        Browser browser = new Browser(oidc.app());
        String callback = browser.consentAt(LOGIN);

        Map<String, String> page = Browser.fragment(browser.redirectOf(callback + "&iss=https%3A%2F%2Fevil.example.com"));

        assertThat(page).containsEntry("oauth_error", "invalid_state");
        assertThat(oidc.provider().tokenRequests()).isZero();
    }

    private TestApp.Response register(String email) {
        TestApp.Response response = oidc.app().post("/auth/register",
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
