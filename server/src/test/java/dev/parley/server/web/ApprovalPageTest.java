package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * A tool call that needs the user's approval, in the page: it shows what would run with Approve and Reject buttons,
 * the decision goes to the server, and the run goes on (or stops) as the server settles it. The offline agent's
 * query_usage tool asks here (PARLEY_TOOL_POLICY).
 */
class ApprovalPageTest {
    private static final Duration RUN = Duration.ofSeconds(30);
    private static final By APPROVAL = By.cssSelector("#messages > .turn:last-child .step.approval");
    private static final By PENDING_APPROVE = By.cssSelector(
            "#messages > .turn:last-child .step.approval[data-state='pending'] button.approval-approve");

    private TestApp app;
    private Browser browser;
    private ChatPage page;

    @BeforeEach
    void open() {
        Browser.requireInstalled();
        browser = Browser.open();
        app = TestApp.start(Map.of("PARLEY_TOOL_POLICY", "query_usage=ask"));
        page = new ChatPage(browser, app.baseUrl());
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
        page.loadSample();
    }

    @AfterEach
    void closeAll() {
        if (browser != null) {
            browser.close();
        }
        if (app != null) {
            app.close();
        }
    }

    @Test
    void approvingAPendingToolCallLetsTheRunFinish() {
        page.ask("Analyze my AI costs");
        WebElement approval = browser.await("the approval to show", ExpectedConditions.visibilityOfElementLocated(APPROVAL));
        assertThat(approval.getAttribute("data-state")).isEqualTo("pending");
        assertThat(approval.findElement(By.cssSelector(".tool-name")).getText()).isEqualTo("query_usage");
        assertThat(page.lastTurn().getAttribute("data-state")).isEqualTo("running");

        approval.findElement(By.cssSelector("button.approval-approve")).click();

        // The offline team asks for each query_usage call it makes: approve each as it comes, until the run ends.
        long deadline = System.nanoTime() + RUN.toNanos();
        while (!"completed".equals(page.lastTurn().getAttribute("data-state"))) {
            assertThat(System.nanoTime()).as("the run completes within %s", RUN).isLessThan(deadline);
            WebElement next = browser.await("another approval or the run's end", driver -> {
                List<WebElement> pending = driver.findElements(PENDING_APPROVE);
                if (!pending.isEmpty() && pending.getFirst().isEnabled()) {
                    return pending.getFirst();
                }
                return "completed".equals(page.lastTurn().getAttribute("data-state")) ? page.lastTurn() : null;
            });
            if (next.getTagName().equals("button")) {
                next.click();
            }
        }
        List<WebElement> settled = browser.driver().findElements(APPROVAL);
        assertThat(settled).isNotEmpty().allSatisfy(each -> {
            assertThat(each.getAttribute("data-state")).isEqualTo("approved");
            assertThat(each.findElement(By.cssSelector(".approval-status")).getAttribute("textContent"))
                    .isEqualTo("Approved");
            assertThat(each.findElements(By.cssSelector("button"))).isEmpty();
        });
        assertThat(page.lastTurn().findElements(By.cssSelector(".step.tool[data-state='success']"))).isNotEmpty();
    }

    @Test
    void rejectingAPendingToolCallKeepsTheToolFromRunning() {
        page.ask("Analyze my AI costs");
        WebElement approval = browser.await("the approval to show", ExpectedConditions.visibilityOfElementLocated(APPROVAL));

        approval.findElement(By.cssSelector("button.approval-reject")).click();

        page.awaitLastTurn("the run to end", RUN, "completed", "failed");
        WebElement settled = browser.driver().findElement(APPROVAL);
        assertThat(settled.getAttribute("data-state")).isEqualTo("rejected");
        assertThat(settled.findElement(By.cssSelector(".approval-status")).getAttribute("textContent"))
                .isEqualTo("Rejected");
        assertThat(page.lastTurn().findElements(By.cssSelector(".step.tool[data-state='success']"))).isEmpty();
    }
}
