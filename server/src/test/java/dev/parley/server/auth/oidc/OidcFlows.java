package dev.parley.server.auth.oidc;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.TestApp;
import java.util.HashMap;
import java.util.Map;

/** The sign-in steps the tests take over real HTTP, against the app configured with a fake provider as "corp". */
final class OidcFlows {
    static final String PROVIDER = "corp";
    static final String DISPLAY_NAME = "Corp SSO";
    static final String LOGIN = "/auth/login?provider=" + PROVIDER;

    private OidcFlows() {
    }

    /** The environment that configures {@code provider} as "corp", with the browser's redirect URI. */
    static Map<String, String> env(FakeOpenIdProvider provider) {
        Map<String, String> env = new HashMap<>(provider.env(PROVIDER, DISPLAY_NAME));
        env.put("PARLEY_OIDC_PROVIDERS", PROVIDER);
        env.put("PARLEY_OIDC_REDIRECT_URI", Browser.REDIRECT_URI);
        return env;
    }

    static Map<String, String> env(FakeOpenIdProvider provider, Map<String, String> more) {
        Map<String, String> env = env(provider);
        env.putAll(more);
        return env;
    }

    /** The whole sign-in in one browser: login, consent, callback, then the one-time code traded for a token pair. */
    static JsonNode signIn(TestApp app, Browser browser) {
        Map<String, String> fragment = Browser.fragment(browser.navigate(LOGIN));
        assertThat(fragment).as("the page was told %s", fragment).containsKey("oauth_code");
        TestApp.Response exchanged = exchange(app, fragment.get("oauth_code"));
        assertThat(exchanged.status()).as(exchanged.body()).isEqualTo(200);
        return exchanged.json();
    }

    /** Signs in and answers only where the browser ended: the web page location with its fragment. */
    static Map<String, String> pageAfterSignIn(Browser browser) {
        return Browser.fragment(browser.navigate(LOGIN));
    }

    static TestApp.Response exchange(TestApp app, String code) {
        return app.post("/auth/exchange", Json.write(Json.object().put("code", code)), null);
    }

}
