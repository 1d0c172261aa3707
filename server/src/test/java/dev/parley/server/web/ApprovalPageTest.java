package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
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

    @RegisterExtension
    static final Pages pages = new Pages();

    private TestApp app;
    private Browser browser;
    private ChatPage page;
    private String email;

    @BeforeEach
    void open() {
        app = pages.start(Map.of("PARLEY_TOOL_POLICY", "query_usage=ask"));
        page = pages.open(app);
        browser = page.browser();
        email = ChatPageTest.email();
        page.open().register(email, TestUsers.PASSWORD);
        page.loadSample();
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
        approveUntilCompleted(page);
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
    void everyTabOfTheUserShowsTheApprovalAndADecisionInOneSettlesItInAll() {
        ChatPage other = pages.open(app);
        Browser second = other.browser();
        other.open().signIn(email, TestUsers.PASSWORD);

        page.ask("Analyze my AI costs");
        other.openThread("Analyze my AI costs");

        WebElement first = browser.await("the approval in the first tab",
                ExpectedConditions.visibilityOfElementLocated(PENDING_APPROVE));
        String approvalId = first.getAttribute("data-approval-id");
        By sameApproval = By.cssSelector("#messages > .turn:last-child .step.approval[data-approval-id='"
                + approvalId + "']");
        WebElement mirrored = second.await("the same approval in the second tab",
                ExpectedConditions.visibilityOfElementLocated(sameApproval));
        assertThat(mirrored.getAttribute("data-state")).isEqualTo("pending");
        assertThat(mirrored.findElement(By.cssSelector(".tool-name")).getText()).isEqualTo("query_usage");
        assertThat(mirrored.findElements(By.cssSelector("button.approval-approve"))).hasSize(1);

        // Decided in the second tab: the card settles in both and loses its buttons in both.
        mirrored.findElement(By.cssSelector("button.approval-approve")).click();
        for (Browser each : List.of(second, browser)) {
            each.await("the approval to settle in every tab",
                    ExpectedConditions.attributeToBe(sameApproval, "data-state", "approved"));
            assertThat(each.driver().findElement(sameApproval).findElements(By.cssSelector("button"))).isEmpty();
        }

        // The rest of the run's approvals are decided in the first tab; both tabs see the run complete.
        approveUntilCompleted(page);
        other.awaitLastTurn("the run to complete in the second tab", RUN, "completed");
        for (ChatPage each : List.of(page, other)) {
            assertThat(each.driver().findElements(APPROVAL)).isNotEmpty().allSatisfy(card -> {
                assertThat(card.getAttribute("data-state")).isEqualTo("approved");
                assertThat(card.findElements(By.cssSelector("button"))).isEmpty();
            });
            assertThat(each.lastTurn().findElements(By.cssSelector(".step.tool[data-state='success']")))
                    .isNotEmpty();
        }
    }

    /** Approves each pending tool call of the last turn as it comes, until the run completes. */
    private void approveUntilCompleted(ChatPage on) {
        long deadline = System.nanoTime() + RUN.toNanos();
        while (!"completed".equals(on.lastTurn().getAttribute("data-state"))) {
            assertThat(System.nanoTime()).as("the run completes within %s", RUN).isLessThan(deadline);
            WebElement next = on.browser().await("another approval or the run's end", driver -> {
                List<WebElement> pending = driver.findElements(PENDING_APPROVE);
                if (!pending.isEmpty() && pending.getFirst().isEnabled()) {
                    return pending.getFirst();
                }
                return "completed".equals(on.lastTurn().getAttribute("data-state")) ? on.lastTurn() : null;
            });
            if (next.getTagName().equals("button")) {
                next.click();
            }
        }
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
