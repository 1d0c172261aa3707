package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.agent.OpenAiScript;
import dev.parley.server.agent.ScriptedLlmServer;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.McpTestServer;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The user's own credential for an MCP server that takes one ({@code user_secret}), in a real Chromium: the "Tool
 * connections" dialog lists the caller's servers with their status, stores a token (never shown again) and removes it,
 * and a run uses the tool with the stored token.
 */
class McpCredentialsPageTest {
    private static final Duration RUN = Duration.ofSeconds(30);
    private static final String TOKEN = "page-token-7f3a";
    private static final By DIALOG = By.id("connections-dialog");
    private static final By SERVER = By.cssSelector("#tool-servers .tool-server[data-server-id='mine']");

    @RegisterExtension
    static final Pages pages = new Pages();

    private McpTestServer mcp;
    private ScriptedLlmServer llm;
    private TestApp app;
    private Browser browser;
    private ChatPage page;

    @BeforeEach
    void start() throws Exception {
        mcp = pages.keep(new McpTestServer());
        mcp.requireAuthorization(Set.of("Bearer " + TOKEN));
        llm = pages.keep(new ScriptedLlmServer());
        app = pages.start(llm.settings(mcp.userSecretSettings("mine")));
        TestUsers.User probe = TestUsers.register(app);
        Await.until("the MCP server's tools discovered", Duration.ofSeconds(10), () -> !app.get("/api/mcp/servers",
                probe.accessToken()).json().path("servers").path(0).path("tools").isEmpty());
        page = pages.open(app);
        browser = page.browser();
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
    }

    private WebElement openConnections() {
        browser.driver().findElement(By.id("connections-open")).click();
        browser.await("the tool connections dialog", ExpectedConditions.visibilityOfElementLocated(DIALOG));
        return browser.await("the server in the list", ExpectedConditions.visibilityOfElementLocated(SERVER));
    }

    private WebElement awaitStatus(String status) {
        return browser.await("the server to show " + status, ExpectedConditions.visibilityOfElementLocated(
                By.cssSelector("#tool-servers .tool-server[data-server-id='mine'][data-status='" + status + "']")));
    }

    @Test
    void aUserStoresATokenThatRunsUseAndRemovesIt() {
        WebElement server = openConnections();
        assertThat(server.getAttribute("data-status")).isEqualTo("needs_auth");
        assertThat(server.findElement(By.cssSelector(".tool-server-state")).getText()).isEqualTo("Needs your credential");
        assertThat(server.findElement(By.cssSelector(".tool-server-tools")).getText()).contains("lookup");
        assertThat(server.findElements(By.cssSelector(".tool-server-remove"))).isEmpty();

        // A token the server refuses (not printable ASCII): its error is shown, and nothing is stored.
        WebElement input = server.findElement(By.cssSelector("input.tool-server-token"));
        assertThat(input.getAttribute("type")).isEqualTo("password");
        input.sendKeys("t\u00f8ken");
        server.findElement(By.cssSelector("button.tool-server-save")).click();
        browser.await("the server's refusal", ExpectedConditions.visibilityOfElementLocated(By.id("connections-alert")));
        assertThat(browser.driver().findElement(By.id("connections-alert")).getText())
                .isEqualTo("The server could not accept that request. Check the fields and try again.");
        assertThat(awaitStatus("needs_auth")).isNotNull();

        input = browser.driver().findElement(SERVER).findElement(By.cssSelector("input.tool-server-token"));
        input.clear();
        input.sendKeys(TOKEN);
        browser.driver().findElement(SERVER).findElement(By.cssSelector("button.tool-server-save")).click();
        server = awaitStatus("connected");
        assertThat(server.findElement(By.cssSelector(".tool-server-state")).getText()).isEqualTo("Connected");
        assertThat(server.findElements(By.cssSelector("input"))).isEmpty();
        assertThat(server.findElements(By.cssSelector("button.tool-server-remove"))).hasSize(1);
        assertThat(browser.driver().findElement(By.id("connections-alert")).isDisplayed()).isFalse();
        assertThat((String) browser.script("return document.documentElement.outerHTML;")).doesNotContain(TOKEN);
        browser.screenshot("tool-connections");

        // A run calls the server's tool with the stored token.
        browser.driver().findElement(By.id("connections-close")).click();
        browser.await("the dialog to close", ExpectedConditions.invisibilityOfElementLocated(DIALOG));
        llm.then(OpenAiScript.toolCall("call_1", "mine__lookup", "{\"query\":\"parley\"}"))
                .then(OpenAiScript.answer("Found it."));
        page.ask("Look parley up");
        WebElement turn = page.awaitLastTurn("the run to end", RUN, "completed", "failed");
        assertThat(turn.getAttribute("data-state")).isEqualTo("completed");
        assertThat(turn.findElements(By.cssSelector(".step.tool[data-state='success']"))).hasSize(1);
        assertThat(mcp.calls()).singleElement().satisfies(call -> {
            assertThat(call.tool()).isEqualTo("lookup");
            assertThat(call.authorization()).isEqualTo("Bearer " + TOKEN);
        });

        // Removed: the server needs the credential again, and the form to store one is back.
        server = openConnections();
        server.findElement(By.cssSelector("button.tool-server-remove")).click();
        server = awaitStatus("needs_auth");
        assertThat(server.findElements(By.cssSelector("input.tool-server-token"))).hasSize(1);
        assertThat(server.findElements(By.cssSelector("button.tool-server-remove"))).isEmpty();
    }
}
