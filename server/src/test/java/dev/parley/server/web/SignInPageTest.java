package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.devtools.NetworkInterceptor;
import org.openqa.selenium.remote.http.Contents;
import org.openqa.selenium.remote.http.HttpResponse;
import org.openqa.selenium.remote.http.Route;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * Signing in and out: registration and login with mistakes explained in words, where tokens are kept, how the
 * socket is authenticated, dev login only when enabled, the provider sign-in fragments, and one login shared by
 * the tabs of a browser.
 */
class SignInPageTest {
    @RegisterExtension
    static final Pages pages = new Pages();

    private TestApp app;
    private Browser browser;
    private ChatPage page;

    private void startServer(Map<String, String> env) {
        app = pages.start(env);
        page = pages.open(app);
        browser = page.browser();
    }

    @Test
    void mistakesAreExplainedInWordsAndALoginSurvivesAReload() {
        startServer(Map.of());
        page.open();
        assertThat(browser.driver().findElement(By.id("dev-login")).isDisplayed()).isFalse();
        assertThat(browser.driver().findElement(By.id("providers")).isDisplayed()).isFalse();
        String email = ChatPageTest.email();

        page.registerMode(true);
        page.fillAndSubmit(email, "short");
        assertThat(alert()).isEqualTo("Choose a password of at least 8 characters.");

        page.register(email, TestUsers.PASSWORD);
        browser.driver().findElement(By.id("signout")).click();
        browser.await("the sign-in form after signing out", ExpectedConditions.textToBe(ChatPage.SIGNIN_ALERT,
                "You are signed out."));
        assertThat(storage("localStorage")).doesNotContainKey("parley.refresh_token");

        page.registerMode(true);
        page.fillAndSubmit(email, TestUsers.PASSWORD);
        browser.await("the taken email", ExpectedConditions.textToBe(ChatPage.SIGNIN_ALERT,
                "An account with this email already exists. Sign in instead."));

        page.registerMode(false);
        page.fillAndSubmit(email, "not the password");
        browser.await("the wrong password", ExpectedConditions.textToBe(ChatPage.SIGNIN_ALERT,
                "That email and password do not match an account."));
        assertThat(browser.driver().switchTo().activeElement().getAttribute("id")).isEqualTo("signin-password");

        browser.devtoolsEvents(); // forget the earlier sockets
        page.fillAndSubmit(email, TestUsers.PASSWORD);
        page.awaitConnected();

        // Only the refresh token is stored; the access token lives in the page's memory.
        Map<String, String> local = storage("localStorage");
        assertThat(local).containsOnlyKeys("parley.refresh_token", "parley.user");
        assertThat(claims(local.get("parley.refresh_token")).path("token_type").asText()).isEqualTo("refresh");
        assertThat(storage("sessionStorage").values()).noneMatch(value -> value.matches("[\\w-]+\\.[\\w-]+\\.[\\w-]+"));
        // The socket carries the token in the jwt-auth subprotocol, never in its URL.
        Handshake handshake = lastSocketHandshake();
        assertThat(handshake.url()).isEqualTo("ws://127.0.0.1:" + app.app().port() + "/ws");
        assertThat(handshake.protocols()).startsWith("jwt-auth, jwt.");
        assertThat(handshake.selected()).isEqualTo("jwt-auth");

        browser.driver().navigate().refresh();
        page.awaitConnected();
        assertThat(browser.driver().findElement(By.id("user-label")).getText()).isNotBlank();
    }

    @Test
    void devLoginIsOfferedOnlyWhenTheServerEnablesIt() {
        startServer(Map.of("PARLEY_DEV_LOGIN", "true"));
        page.open();
        WebElement button = browser.await("the dev login button",
                ExpectedConditions.visibilityOfElementLocated(By.id("dev-login-button")));
        browser.driver().findElement(By.id("signin-email")).sendKeys("dev-person@example.org");
        button.click();
        page.awaitConnected();
        assertThat(browser.driver().findElement(By.id("user-label")).getText()).contains("dev-person");
    }

    @Test
    void providerSignInFragmentsAreHandledAndLeaveTheAddressBar() {
        startServer(Map.of());
        page.open("#oauth_error=access_denied&message=You%20cancelled%20the%20sign-in.");
        browser.await("the provider's error", ExpectedConditions.textToBe(ChatPage.SIGNIN_ALERT,
                "Sign-in did not complete: You cancelled the sign-in."));
        assertThat(browser.driver().getCurrentUrl()).doesNotContain("#");

        // A one-time code the server does not know (expired, used or made up): the page says so in words.
        page.open("#oauth_code=one-time-code");
        browser.await("the refused code explained", ExpectedConditions.textToBe(ChatPage.SIGNIN_ALERT,
                "That sign-in has expired or was already used. Please sign in again."));
        assertThat(browser.driver().getCurrentUrl()).doesNotContain("one-time-code");
    }

    @Test
    void providersFromTheServerBecomeSignInLinksAndUnsafeOnesAreDropped() {
        startServer(Map.of());
        // The browser sees a server with providers and dev login configured (its answer to /auth/config is replaced).
        String config = """
                {"providers": [
                  {"id": "google", "name": "Google", "login_url": "/auth/login?provider=google"},
                  "github",
                  {"id": "evil", "name": "Evil", "login_url": "javascript:window.pwned = true"},
                  {"id": "elsewhere", "name": "Elsewhere", "login_url": "http://other.example/login"}
                ], "dev_login": true, "access_token_ttl_s": 900, "registration_open": false}
                """;
        try (NetworkInterceptor ignored = new NetworkInterceptor(browser.driver(),
                Route.matching(request -> request.getUri().endsWith("/auth/config")).to(() -> request ->
                        new HttpResponse().setStatus(200).addHeader("Content-Type", "application/json")
                                .setContent(Contents.utf8String(config))))) {
            page.open();
            browser.await("the provider links", ExpectedConditions.visibilityOfElementLocated(By.id("providers")));
            List<WebElement> links = browser.driver().findElements(By.cssSelector("#provider-list a"));
            assertThat(links).extracting(WebElement::getText).containsExactly("Sign in with Google", "Sign in with Github");
            assertThat(links).extracting(link -> link.getAttribute("href")).containsExactly(
                    app.baseUrl() + "/auth/login?provider=google", app.baseUrl() + "/auth/login?provider=github");
            assertThat(browser.driver().findElement(By.id("dev-login-button")).isDisplayed()).isTrue();
            assertThat(browser.driver().findElement(By.id("switch-mode")).isDisplayed()).isFalse();
        }
    }

    @Test
    void tabsShareOneLoginAndSigningOutInOneSignsOutTheOther() {
        startServer(Map.of());
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
        String firstTab = browser.driver().getWindowHandle();

        browser.driver().switchTo().newWindow(WindowType.TAB);
        page.open();
        page.awaitConnected();
        // Both tabs refreshed the same stored login in turn; neither was revoked for reuse.
        browser.driver().switchTo().window(firstTab);
        browser.driver().navigate().refresh();
        page.awaitConnected();
        String secondTab = browser.driver().getWindowHandles().stream().filter(h -> !h.equals(firstTab))
                .findFirst().orElseThrow();
        browser.driver().switchTo().window(secondTab);
        browser.driver().findElement(By.id("signout")).click();
        browser.await("the second tab signed out", ExpectedConditions.visibilityOfElementLocated(ChatPage.SIGNIN_VIEW));

        browser.driver().switchTo().window(firstTab);
        browser.await("the first tab signed out too", ExpectedConditions.visibilityOfElementLocated(ChatPage.SIGNIN_VIEW));
        assertThat(browser.driver().findElement(ChatPage.SIGNIN_ALERT).getText())
                .isIn("You signed out in another tab.",
                        "You were signed out, for example from another tab or device. Please sign in again.");
    }

    @Test
    void theAccessTokenIsRefreshedBeforeItExpiresAndTheSocketLivesOn() {
        startServer(Map.of("PARLEY_ACCESS_TOKEN_TTL", "10s"));
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
        var metrics = app.app().metrics();

        // Two refreshes of a 10 s token: the socket's first token expired long ago.
        browser.await("two token refreshes sent over the socket", java.time.Duration.ofSeconds(45),
                driver -> metrics.counter("parley_ws_messages_received_total", "type", "auth_refresh") >= 2);

        assertThat(metrics.counter("parley_ws_closed_total", "reason", "token_expired")).isZero();
        assertThat(metrics.counter("parley_ws_opened_total")).isEqualTo(1);
        assertThat(page.status()).isEqualTo("Connected");
        page.ask("What does gpt-4o cost?");
        page.awaitLastTurn("an answer on the same socket", java.time.Duration.ofSeconds(30), "completed");
        assertThat(metrics.counter("parley_ws_opened_total")).isEqualTo(1);
    }

    private String alert() {
        return browser.await("a sign-in message", ExpectedConditions.visibilityOfElementLocated(ChatPage.SIGNIN_ALERT))
                .getText();
    }

    @SuppressWarnings("unchecked")
    private Map<String, String> storage(String which) {
        return (Map<String, String>) browser.script("const s = window[arguments[0]]; const out = {};"
                + " for (let i = 0; i < s.length; i++) { out[s.key(i)] = s.getItem(s.key(i)); } return out;", which);
    }

    private static JsonNode claims(String jwt) {
        String payload = jwt.split("\\.")[1];
        return Json.parse(new String(java.util.Base64.getUrlDecoder().decode(payload),
                java.nio.charset.StandardCharsets.UTF_8));
    }

    private record Handshake(String url, String protocols, String selected) {
    }

    /** The last socket the page opened, from the browser's DevTools network events. */
    private Handshake lastSocketHandshake() {
        List<JsonNode> events = new ArrayList<>();
        browser.await("the socket handshake in the network log", driver -> {
            for (String message : browser.devtoolsEvents()) {
                events.add(Json.parse(message).path("message"));
            }
            return events.stream().anyMatch(e -> e.path("method").asText().equals("Network.webSocketHandshakeResponseReceived"));
        });
        String url = null;
        String offered = null;
        String selected = null;
        for (JsonNode event : events) {
            JsonNode params = event.path("params");
            switch (event.path("method").asText()) {
                case "Network.webSocketCreated" -> url = params.path("url").asText();
                case "Network.webSocketWillSendHandshakeRequest" ->
                        offered = header(params.path("request").path("headers"), "Sec-WebSocket-Protocol");
                case "Network.webSocketHandshakeResponseReceived" ->
                        selected = header(params.path("response").path("headers"), "Sec-WebSocket-Protocol");
                default -> {
                }
            }
        }
        return new Handshake(url, offered, selected);
    }

    private static String header(JsonNode headers, String name) {
        var fields = headers.properties();
        for (var field : fields) {
            if (field.getKey().equalsIgnoreCase(name)) {
                return field.getValue().asText();
            }
        }
        return null;
    }
}
