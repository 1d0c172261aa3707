package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/** Two people in two browsers on one server: neither sees the other's threads, messages, runs or usage data. */
class IsolationTest {
    private static final Duration RUN = Duration.ofSeconds(40);

    @RegisterExtension
    static final Pages pages = new Pages();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = pages.start(Map.of("PARLEY_AGENT_STEP_DELAY", "200ms"));
    }

    @Test
    void aSecondUserInANewBrowserSeesNothingOfTheFirstUsersConversations() {
        ChatPage alice = pages.open(app);
        ChatPage bob = pages.open(app);
        alice.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
        alice.loadSample();
        alice.ask("Analyze my AI costs");
        alice.awaitLastTurn("Alice's answer", RUN, "completed");
        String aliceThread = alice.sessionItem("parley.thread");
        assertThat(aliceThread).isNotBlank();
        assertThat(alice.threadTitles()).containsExactly("Analyze my AI costs");

        bob.open();
        assertThat(bob.driver().findElement(ChatPage.SIGNIN_VIEW).isDisplayed()).isTrue();
        bob.register(ChatPageTest.email(), TestUsers.PASSWORD);
        bob.browser().await("Bob's empty thread list",
                ExpectedConditions.visibilityOfElementLocated(By.id("threads-empty")));
        assertThat(bob.threadTitles()).isEmpty();
        bob.browser().await("Bob has no usage data", ExpectedConditions.textToBePresentInElementLocated(
                By.id("usage-summary"), "no usage records"));

        // Even with Alice's thread id planted in his tab, Bob gets "no such conversation" and nothing of it.
        bob.browser().script("sessionStorage.setItem('parley.thread', arguments[0]);", aliceThread);
        bob.driver().navigate().refresh();
        bob.awaitConnected();
        bob.browser().await("the refusal in words", ExpectedConditions.textToBe(ChatPage.CHAT_ALERT,
                "This conversation no longer exists. It may have been deleted."));
        assertThat(bob.driver().findElements(ChatPage.TURNS)).isEmpty();
        assertThat(bob.driver().findElement(By.id("chat-title")).getText()).isEqualTo("New conversation");
        assertThat(bob.sessionItem("parley.thread")).isNull();

        // Bob's own question is answered from his (empty) records, and Alice's page never hears of his run.
        bob.ask("Analyze my AI costs");
        WebElement answer = bob.awaitLastTurn("Bob's answer", RUN, "completed");
        assertThat(answer.findElement(By.cssSelector(".answer")).getText()).contains("No usage data yet");
        assertThat(bob.threadTitles()).containsExactly("Analyze my AI costs");
        assertThat(alice.driver().findElements(ChatPage.TURNS)).hasSize(1);
        assertThat(alice.threadTitles()).containsExactly("Analyze my AI costs");
        alice.driver().navigate().refresh();
        alice.awaitConnected();
        alice.browser().await("Alice's one conversation", ExpectedConditions.numberOfElementsToBe(ChatPage.TURNS, 1));
        assertThat(alice.threadTitles()).containsExactly("Analyze my AI costs");
        assertThat(alice.lastTurn().findElement(By.cssSelector(".answer")).getText())
                .contains("Where your money goes");
    }
}
