package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The chat page in a real Chromium against the real server and its offline agent: a new user loads the sample
 * month, asks, watches the agent's steps and the streamed answer, and reads the usage line; threads are created,
 * renamed and deleted; the page works by keyboard and at phone width.
 */
class ChatPageTest {
    private static final Duration RUN = Duration.ofSeconds(40);

    @RegisterExtension
    static final Pages pages = new Pages();

    private static TestApp app;
    private Browser browser;
    private ChatPage page;

    @BeforeAll
    static void start() {
        app = pages.start(Map.of("PARLEY_AGENT_STEP_DELAY", "400ms"));
    }

    @BeforeEach
    void openBrowser() {
        page = pages.open(app);
        browser = page.browser();
    }

    @Test
    void newUserLoadsSampleDataAsksAndSeesStepsStreamedAnswerAndUsage() {
        String email = email();
        page.open().register(email, TestUsers.PASSWORD);
        assertThat(browser.driver().findElement(By.id("welcome")).isDisplayed()).isTrue();
        browser.await("the empty usage summary", ExpectedConditions.textToBePresentInElementLocated(
                By.id("usage-summary"), "no usage records"));

        page.loadSample();
        assertThat(browser.driver().findElement(By.id("sample-result")).getText()).matches("Loaded [0-9,]+ sample records.*");
        long partialsBefore = app.app().metrics().counter("parley_ws_events_sent_total", "type", "partial_result");

        WebElement turn = page.ask("Analyze my AI costs");
        assertThat(turn.findElement(By.cssSelector(".message.user")).getText()).contains("Analyze my AI costs");
        // While the agent works: its steps show live and Stop is offered.
        page.awaitLastTurn("the run to show as running", RUN, "running");
        page.awaitSteps(1);
        browser.await("the stop button while running", ExpectedConditions.visibilityOfElementLocated(ChatPage.STOP));

        turn = page.awaitLastTurn("the answer to complete", RUN, "completed");
        assertThat(browser.driver().findElement(ChatPage.STOP).isDisplayed()).isFalse();

        List<WebElement> thinking = turn.findElements(By.cssSelector(".steps > .step.thinking"));
        List<WebElement> tools = turn.findElements(By.cssSelector(".steps > .step.tool"));
        assertThat(thinking).hasSizeGreaterThanOrEqualTo(3);
        assertThat(tools).isNotEmpty();
        assertThat(tools).allSatisfy(tool -> assertThat(tool.getAttribute("data-state")).isEqualTo("success"));
        // The steps fold away under the finished answer; a tool opens to show its parameters and result.
        WebElement progress = turn.findElement(By.cssSelector("details.progress"));
        assertThat(progress.getAttribute("open")).isNull();
        progress.findElement(By.tagName("summary")).click();
        WebElement firstTool = tools.getFirst();
        assertThat(firstTool.findElement(By.cssSelector(".tool-name")).getText()).isEqualTo("query_usage");
        firstTool.findElement(By.tagName("summary")).click();
        browser.await("the tool's details", ExpectedConditions.visibilityOf(firstTool.findElement(By.cssSelector(".tool-result"))));
        assertThat(firstTool.findElement(By.cssSelector(".tool-parameters")).getText()).contains("group_by");
        assertThat(firstTool.findElement(By.cssSelector(".tool-result")).getText()).contains("totals");
        progress.findElement(By.tagName("summary")).click();

        // The answer is rendered Markdown with the user's real figures.
        JsonNode totals = summaryOf(email).path("totals");
        WebElement answer = turn.findElement(By.cssSelector(".answer"));
        assertThat(answer.findElement(By.tagName("h4")).getText()).isEqualTo("Where your money goes");
        assertThat(answer.findElements(By.cssSelector(".table-wrap table tbody tr"))).hasSizeGreaterThanOrEqualTo(2);
        assertThat(answer.findElements(By.cssSelector("strong"))).isNotEmpty();
        assertThat(answer.getText())
                .contains(String.format(Locale.ROOT, "%,d", totals.path("requests").asLong()))
                .contains(String.format(Locale.ROOT, "$%,.2f", totals.path("cost_usd").asDouble()))
                .doesNotContain("**", "|---");
        assertThat(answer.getAttribute("aria-live")).isEqualTo("polite");
        assertThat(answer.getAttribute("aria-busy")).isEqualTo("false");
        // It came as streamed deltas, and the usage of the run is under it.
        assertThat(app.app().metrics().counter("parley_ws_events_sent_total", "type", "partial_result"))
                .isGreaterThan(partialsBefore + 5);
        assertThat(turn.findElement(By.cssSelector(".usage")).getText())
                .matches("Usage: [0-9,]+ input \\+ [0-9,]+ output tokens · \\$[0-9.,]+ · [0-9.]+ s");

        assertThat(page.threadTitles()).containsExactly("Analyze my AI costs");
        // A picture of the whole finished answer with its steps open (docs/screenshot-answer.png comes from here).
        progress.findElement(By.tagName("summary")).click();
        long extra = (Long) browser.script("const s = document.getElementById('scroller');"
                + " return Math.ceil(s.scrollHeight - s.clientHeight + window.outerHeight);");
        browser.resize(1280, (int) Math.min(4000, extra));
        browser.script("document.getElementById('scroller').scrollTop = 0;");
        Path shot = browser.screenshot("answer");
        assertThat(shot).isNotEmptyFile();
        assertThat(severeConsoleMessages()).isEmpty();
    }

    @Test
    void threadsAreCreatedRenamedAndDeletedAndTheOpenOneSurvivesAReload() {
        page.open().register(email(), TestUsers.PASSWORD);
        page.ask("What do GPT-4o and Claude cost?");
        page.awaitLastTurn("the first answer", RUN, "completed");

        browser.driver().findElement(By.id("new-thread")).click();
        browser.await("an empty conversation", ExpectedConditions.visibilityOfElementLocated(By.id("welcome")));
        assertThat(browser.driver().findElement(By.id("chat-title")).getText()).isEqualTo("New conversation");
        assertThat(browser.driver().findElements(ChatPage.TURNS)).isEmpty();
        page.ask("Which model costs me the most?");
        page.awaitLastTurn("the second answer", RUN, "completed");
        browser.await("two threads", driver -> page.threadTitles().size() == 2);
        assertThat(page.threadTitles()).containsExactly("Which model costs me the most?", "What do GPT-4o and Claude cost?");

        // Rename the older one through its dialog.
        clickInThread("What do GPT-4o and Claude cost?", ".thread-rename");
        WebElement title = browser.await("the rename dialog", ExpectedConditions.visibilityOfElementLocated(By.id("rename-input")));
        title.sendKeys(Keys.chord(Keys.CONTROL, "a"), "Price comparison", Keys.ENTER);
        browser.await("the new title in the list", driver -> page.threadTitles().contains("Price comparison"));

        // Delete the open one: the page falls back to a new conversation.
        clickInThread("Which model costs me the most?", ".thread-delete");
        browser.await("the delete dialog", ExpectedConditions.visibilityOfElementLocated(By.id("delete-confirm"))).click();
        browser.await("the deleted thread to leave the list", driver -> page.threadTitles().equals(List.of("Price comparison")));
        assertThat(browser.driver().findElement(By.id("chat-title")).getText()).isEqualTo("New conversation");

        // Open the renamed thread, reload: the same thread is open again, with its messages.
        threadItem("Price comparison").findElement(By.cssSelector(".thread-open")).click();
        browser.await("the thread's messages", ExpectedConditions.numberOfElementsToBe(ChatPage.TURNS, 1));
        browser.driver().navigate().refresh();
        page.awaitConnected();
        browser.await("the reopened thread", ExpectedConditions.textToBe(By.id("chat-title"), "Price comparison"));
        browser.await("its messages", ExpectedConditions.numberOfElementsToBe(ChatPage.TURNS, 1));
        WebElement turn = page.lastTurn();
        assertThat(turn.getAttribute("data-state")).isEqualTo("history");
        assertThat(turn.findElement(By.cssSelector(".message.user")).getText()).contains("What do GPT-4o and Claude cost?");
        assertThat(turn.findElement(By.cssSelector(".answer")).getText()).isNotBlank();
        browser.await("the stored run's usage line", driver -> turn.findElement(By.cssSelector(".usage")).isDisplayed());
    }

    @Test
    void enterSendsShiftEnterAddsALineAndFocusIsVisible() {
        page.open().register(email(), TestUsers.PASSWORD);
        WebElement composer = browser.driver().findElement(ChatPage.COMPOSER);
        assertThat(browser.driver().switchTo().activeElement()).isEqualTo(composer);

        composer.sendKeys("How can I cut my LLM spend?", Keys.chord(Keys.SHIFT, Keys.ENTER), "Keep it short.");
        assertThat(composer.getAttribute("value")).isEqualTo("How can I cut my LLM spend?\nKeep it short.");
        assertThat(browser.driver().findElements(ChatPage.TURNS)).isEmpty();

        composer.sendKeys(Keys.ENTER);
        WebElement turn = page.awaitLastTurn("the answer", RUN, "completed");
        assertThat(turn.findElement(By.cssSelector(".message.user .bubble")).getText())
                .isEqualTo("How can I cut my LLM spend?\nKeep it short.");
        assertThat(composer.getAttribute("value")).isEmpty();

        // Keyboard focus is drawn: tab to the send button and check its outline.
        composer.sendKeys("x");
        composer.sendKeys(Keys.TAB);
        WebElement focused = browser.driver().switchTo().activeElement();
        assertThat(focused.getAttribute("id")).isIn("stop", "send");
        assertThat(focused.getCssValue("outline-style")).isEqualTo("solid");
        // Every form control has a label a screen reader can read.
        for (WebElement field : browser.driver().findElements(By.cssSelector("input, textarea"))) {
            String id = field.getAttribute("id");
            assertThat(browser.driver().findElements(By.cssSelector("label[for='" + id + "']"))).as(id).hasSize(1);
        }
    }

    @Test
    void atPhoneWidthTheThreadListFoldsBehindAButton() {
        browser.resize(390, 844);
        page.open().register(email(), TestUsers.PASSWORD);
        WebElement toggle = browser.driver().findElement(By.id("threads-toggle"));
        WebElement sidebar = browser.driver().findElement(By.id("sidebar"));
        assertThat(toggle.isDisplayed()).isTrue();
        assertThat(sidebar.isDisplayed()).isFalse();
        assertThat(browser.driver().findElement(ChatPage.COMPOSER).isDisplayed()).isTrue();
        assertThat((Boolean) browser.script(
                "return document.documentElement.scrollWidth <= window.innerWidth;")).isTrue();

        toggle.click();
        assertThat(sidebar.isDisplayed()).isTrue();
        assertThat(toggle.getAttribute("aria-expanded")).isEqualTo("true");
        browser.driver().switchTo().activeElement().sendKeys(Keys.ESCAPE);
        assertThat(sidebar.isDisplayed()).isFalse();
        assertThat(browser.driver().switchTo().activeElement()).isEqualTo(toggle);

        page.ask("Analyze my AI costs");
        WebElement turn = page.awaitLastTurn("the answer", RUN, "completed");
        assertThat(turn.findElement(By.cssSelector(".answer")).getText()).contains("usage");
        assertThat((Boolean) browser.script(
                "return document.documentElement.scrollWidth <= window.innerWidth;")).isTrue();
        browser.screenshot("phone");
    }

    /** Finds the thread's button and clicks it, again if the list was re-rendered in between (a stale element). */
    private void clickInThread(String title, String buttonSelector) {
        browser.await("the button " + buttonSelector + " of '" + title + "' clicked", driver -> {
            threadItem(title).findElement(By.cssSelector(buttonSelector)).click();
            return true;
        });
    }

    private WebElement threadItem(String title) {
        return browser.await("the thread '" + title + "' in the list", driver -> driver
                .findElements(By.cssSelector("#thread-list .thread-item")).stream()
                .filter(item -> item.findElement(By.cssSelector(".thread-title")).getText().equals(title))
                .findFirst().orElse(null));
    }

    private List<String> severeConsoleMessages() {
        return browser.console().stream().filter(line -> line.startsWith("SEVERE")).toList();
    }

    private static JsonNode summaryOf(String email) {
        TestApp.Response login = app.post("/auth/login",
                Json.write(Json.object().put("email", email).put("password", TestUsers.PASSWORD)), null);
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        TestApp.Response summary = app.get("/api/usage/summary", login.json().path("access_token").asText());
        assertThat(summary.status()).isEqualTo(200);
        return summary.json();
    }

    static String email() {
        return "web-" + UUID.randomUUID().toString().substring(0, 12) + "@example.org";
    }
}
