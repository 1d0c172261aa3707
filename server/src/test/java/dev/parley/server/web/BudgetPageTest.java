package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.budget.BudgetRunsTest;
import dev.parley.server.budget.OpenAiWireServer;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The spending limit on the page, in a real Chromium against a local OpenAI-wire model: what is left in the period,
 * the warning, a run that stops because the limit ran out, and a message the limit refuses.
 */
class BudgetPageTest {
    @RegisterExtension
    static final Pages pages = new Pages();

    private TestApp app;

    @BeforeEach
    void start() throws Exception {
        // Two calls a run; the first costs about USD 0.00255 and crosses half the 0.004 limit, the second cannot fit.
        OpenAiWireServer model = pages.keep(new OpenAiWireServer(2, 1000, 4000));
        Map<String, String> env = new HashMap<>(BudgetRunsTest.llm(model, "0.004"));
        env.put("PARLEY_BUDGET_WARN_AT", "0.5");
        app = pages.start(env);
    }

    @Test
    void thePageShowsWhatIsLeftTheWarningAndWhyARunStoppedOrAMessageWasRefused() {
        ChatPage page = pages.open(app);
        Browser browser = page.browser();
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
        By budget = By.id("budget-status");
        browser.await("what is left of the limit", ExpectedConditions.textToBe(budget, "$0.004 left this month"));

        page.ask("Where does my money go?");
        WebElement turn = page.awaitLastTurn("the run to stop for the budget", Duration.ofSeconds(30), "completed");
        browser.await("the stopped run's ending", ExpectedConditions.attributeToBe(turn, "data-run-status",
                "budget_exhausted"));
        assertThat(turn.findElement(By.cssSelector(".run-outcome")).getText())
                .isEqualTo("Stopped before any answer was written: your spending limit for this period ran out.");
        browser.await("the warning", ExpectedConditions.textMatches(ChatPage.CHAT_ALERT,
                java.util.regex.Pattern.compile("You have spent \\$0\\.0026 of your \\$0\\.004 spending limit.*")));
        browser.await("what is left after the run", ExpectedConditions.textToBe(budget, "$0.0015 left this month"));
        assertThat(browser.driver().findElement(budget).getAttribute("data-kind")).isEqualTo("warning");

        page.driver().findElement(ChatPage.COMPOSER).sendKeys("And by feature?\n");
        browser.await("the refusal", ExpectedConditions.textMatches(ChatPage.CHAT_ALERT, java.util.regex.Pattern.compile(
                "Your spending limit for this period is used up, so this message was not sent\\. \\$0\\.0015 is left;"
                        + " the limit resets on .* UTC\\.")));
        assertThat(page.driver().findElement(ChatPage.COMPOSER).getAttribute("value")).isEqualTo("And by feature?");
    }
}
