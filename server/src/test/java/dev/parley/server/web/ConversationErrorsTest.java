package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.observe.Metrics;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * What goes wrong, in words: a failed run, a refused message (the text goes back into the box), and a socket kept
 * alive by answering the server's heartbeats. A scripted agent fails on request; heartbeats come every 500 ms.
 */
class ConversationErrorsTest {
    private static final Duration RUN = Duration.ofSeconds(30);

    @RegisterExtension
    static final Pages pages = new Pages();

    private static TestApp app;
    private Browser browser;
    private ChatPage page;

    @BeforeAll
    static void start() {
        app = pages.start(Map.of("PARLEY_MAX_USER_REQUEST_CHARS", "40", "PARLEY_HEARTBEAT_INTERVAL", "500ms"),
                Clock.systemUTC(), new ScriptedAgent(Duration.ofMillis(50)));
    }

    @BeforeEach
    void openBrowser() {
        page = pages.open(app);
        browser = page.browser();
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
    }

    @Test
    void aFailedRunAndARefusedMessageAreExplainedInWords() {
        page.ask("fail");
        WebElement failed = page.awaitLastTurn("the run to fail", RUN, "failed");
        assertThat(failed.findElement(By.cssSelector(".run-outcome")).getText())
                .isEqualTo("One of the assistant's tools failed. Try again, or ask in a different way.");
        assertThat(browser.driver().findElement(ChatPage.SEND).isEnabled()).isFalse(); // the box is empty

        String tooLong = "Please analyze every single cost of my whole AI usage";
        browser.driver().findElement(ChatPage.COMPOSER).sendKeys(tooLong, org.openqa.selenium.Keys.ENTER);
        browser.await("the refusal in words", ExpectedConditions.textToBe(ChatPage.CHAT_ALERT,
                "That message is too long. Shorten it and try again."));
        assertThat(browser.driver().findElement(ChatPage.COMPOSER).getAttribute("value")).isEqualTo(tooLong);
        assertThat(browser.driver().findElements(ChatPage.TURNS)).hasSize(1);

        browser.driver().findElement(ChatPage.COMPOSER).clear();
        page.ask("deltas 4");
        WebElement answer = page.awaitLastTurn("the next answer", RUN, "completed");
        assertThat(answer.findElement(By.cssSelector(".answer")).getText()).isEqualTo("w0 w1 w2 w3");
    }

    @Test
    void theSocketAnswersHeartbeatsAndStaysOpen() {
        Metrics metrics = app.app().metrics();
        long opened = metrics.counter("parley_ws_opened_total");
        long acks = metrics.counter("parley_ws_messages_received_total", "type", "heartbeat_ack");
        long timeouts = metrics.counter("parley_ws_closed_total", "reason", "heartbeat_timeout");

        // Three heartbeat timeouts' worth of quiet from the person: only the page's answers keep the socket alive.
        browser.await("the page to answer six heartbeats", RUN, driver ->
                metrics.counter("parley_ws_messages_received_total", "type", "heartbeat_ack") >= acks + 6);

        assertThat(metrics.counter("parley_ws_closed_total", "reason", "heartbeat_timeout")).isEqualTo(timeouts);
        assertThat(metrics.counter("parley_ws_opened_total")).isEqualTo(opened);
        assertThat(page.status()).isEqualTo("Connected");
    }
}
