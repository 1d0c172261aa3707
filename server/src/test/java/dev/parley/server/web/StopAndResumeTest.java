package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.ScriptedAgent;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * Runs that outlive what the page sees of them: Stop really stops (and the stored thread keeps the partial answer),
 * a reload in the middle of a run resumes it, and so does a server restart. The offline agent pauses a second
 * between steps here, so that there is a "middle" to act in.
 */
class StopAndResumeTest {
    private static final Duration RUN = Duration.ofSeconds(60);
    private static final String QUESTION = "Analyze my AI costs";

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
    void stopEndsTheRunAsStoppedAndTheStoredThreadShowsIt() {
        startServer(Map.of("PARLEY_AGENT_STEP_DELAY", "1s"));
        String email = ChatPageTest.email();
        page.open().register(email, TestUsers.PASSWORD);
        page.loadSample();
        page.ask(QUESTION);
        page.awaitSteps(1);
        page.awaitLastTurn("the run to be running", RUN, "running");

        browser.await("the stop button", ExpectedConditions.elementToBeClickable(ChatPage.STOP)).click();

        WebElement turn = page.awaitLastTurn("the run to end as stopped", RUN, "cancelled");
        assertThat(turn.findElement(By.cssSelector(".run-outcome")).getText()).startsWith("Stopped");
        assertThat(turn.findElement(By.cssSelector(".usage")).getText()).startsWith("Usage: ");
        assertThat(browser.driver().findElement(ChatPage.STOP).isDisplayed()).isFalse();
        String runId = turn.getAttribute("data-run-id");
        // The server really stopped it: the run is cancelled and never reached its report.
        JsonNode run = runOf(email, runId);
        assertThat(run.path("status").asText()).isEqualTo("cancelled");
        assertThat(eventTypes(email, runId)).doesNotContain("partial_result").endsWith("agent_completed");

        // The stored thread shows the stopped answer after a reload.
        browser.driver().navigate().refresh();
        page.awaitConnected();
        WebElement stored = browser.await("the stored turn", ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#messages > .turn[data-run-id='" + runId + "']")));
        browser.await("the stored run's stopped ending", ExpectedConditions.attributeToBe(stored, "data-run-status", "cancelled"));
        assertThat(stored.findElement(By.cssSelector(".run-outcome")).getText()).startsWith("Stopped");
        assertThat(stored.findElement(By.cssSelector(".message.user")).getText()).contains(QUESTION);
    }

    @Test
    void aStoppedStreamingAnswerKeepsItsPartialTextInTheStoredThread() {
        app = pages.start(Map.of(), Clock.systemUTC(), new ScriptedAgent(Duration.ofMillis(150)));
        page = pages.open(app);
        browser = page.browser();
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
        page.ask("endless");
        browser.await("a few streamed words", driver -> page.lastTurn().findElement(By.cssSelector(".answer"))
                .getText().contains("d3"));

        browser.await("the stop button", ExpectedConditions.elementToBeClickable(ChatPage.STOP)).click();

        WebElement turn = page.awaitLastTurn("the run to end as stopped", RUN, "cancelled");
        String partial = turn.findElement(By.cssSelector(".answer")).getText();
        assertThat(partial).startsWith("d0 d1 d2 d3");
        assertThat(turn.findElement(By.cssSelector(".run-outcome")).getText())
                .isEqualTo("Stopped. This is the part of the answer written before the stop.");
        assertThat(turn.findElement(By.cssSelector(".usage")).getText()).contains("12 input + 34 output tokens");

        browser.driver().navigate().refresh();
        page.awaitConnected();
        WebElement stored = browser.await("the stored turn", ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#messages > .turn[data-run-status='cancelled']")));
        assertThat(stored.getAttribute("data-state")).isEqualTo("history");
        assertThat(stored.findElement(By.cssSelector(".answer")).getText()).isEqualTo(partial);
    }

    @Test
    void reloadInTheMiddleOfARunResumesItWithoutLosingOrRepeatingEvents() {
        startServer(Map.of("PARLEY_AGENT_STEP_DELAY", "1s"));
        String email = ChatPageTest.email();
        page.open().register(email, TestUsers.PASSWORD);
        page.loadSample();
        page.ask(QUESTION);
        page.awaitSteps(2);
        browser.await("the run's progress kept for a reload", driver -> {
            String runs = page.sessionItem("parley.runs");
            return runs != null && Json.parse(runs).path(0).path("last_seq").asLong() >= 2;
        });
        String runId = page.lastTurn().getAttribute("data-run-id");

        browser.driver().navigate().refresh();

        page.awaitConnected();
        // The steps seen before the reload are back at once, then the run goes on live to its end.
        WebElement restored = browser.await("the restored run", ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#messages > .turn[data-run-id='" + runId + "']")));
        assertThat(restored.findElements(By.cssSelector(".steps > .step"))).isNotEmpty();
        WebElement turn = page.awaitLastTurn("the resumed run to complete", RUN, "completed");
        assertThat(turn.getAttribute("data-run-id")).isEqualTo(runId);
        browser.await("the resumed status", ExpectedConditions.textToBe(ChatPage.STATUS, "Reconnected, resumed"));
        assertThat(turn.findElement(By.cssSelector(".answer h4")).getText()).isEqualTo("Where your money goes");
        assertThat(turn.findElement(By.cssSelector(".usage")).isDisplayed()).isTrue();
        // Exactly once: as many steps as the run's log has thinking and tool events, and the full answer.
        var types = eventTypes(email, runId);
        assertThat(turn.findElements(By.cssSelector(".steps > .step.thinking")))
                .hasSize((int) types.stream().filter("agent_thinking"::equals).count());
        assertThat(turn.findElements(By.cssSelector(".steps > .step.tool")))
                .hasSize((int) types.stream().filter("tool_executing"::equals).count());
        assertThat(browser.driver().findElements(ChatPage.TURNS)).hasSize(1);
        browser.await("the finished run to leave the reload state", driver -> page.sessionItem("parley.runs") == null);
    }

    @Test
    void aServerRestartInTheMiddleOfARunIsRidOutAndTheRunFinishes() {
        int port = freePort();
        Path data = tempDir();
        Map<String, String> env = Map.of("PORT", Integer.toString(port), "PARLEY_DATA_DIR", data.toString(),
                "PARLEY_AGENT_STEP_DELAY", "1s", "PARLEY_SHUTDOWN_GRACE", "20s");
        startServer(env);
        page.open().register(ChatPageTest.email(), TestUsers.PASSWORD);
        page.loadSample();
        page.ask(QUESTION);
        page.awaitSteps(1);
        page.awaitLastTurn("the run to be running", RUN, "running");

        // Graceful shutdown: the page gets server_shutdown and a 1012 close; the run finishes during the drain.
        app.close();
        browser.await("the page to notice", ExpectedConditions.textMatches(ChatPage.STATUS,
                java.util.regex.Pattern.compile("^(The server is restarting|Connection lost|Cannot connect|Reconnecting).*")));
        assertThat(browser.driver().findElement(ChatPage.SEND).isEnabled()).isFalse();
        app = pages.start(env);

        WebElement turn = page.awaitLastTurn("the run to complete after the restart", RUN, "completed");
        browser.await("the resumed status", RUN, ExpectedConditions.textToBe(ChatPage.STATUS, "Reconnected, resumed"));
        assertThat(turn.findElement(By.cssSelector(".answer h4")).getText()).isEqualTo("Where your money goes");
        assertThat(browser.driver().findElements(ChatPage.TURNS)).hasSize(1);
    }

    private JsonNode runOf(String email, String runId) {
        TestApp.Response run = app.get("/api/runs/" + runId, tokenOf(email));
        assertThat(run.status()).as(run.body()).isEqualTo(200);
        return run.json();
    }

    private java.util.List<String> eventTypes(String email, String runId) {
        TestApp.Response events = app.get("/api/runs/" + runId + "/events", tokenOf(email));
        assertThat(events.status()).as(events.body()).isEqualTo(200);
        java.util.List<String> types = new java.util.ArrayList<>();
        events.json().path("events").forEach(event -> types.add(event.path("type").asText()));
        return types;
    }

    private String tokenOf(String email) {
        TestApp.Response login = app.post("/auth/login",
                Json.write(Json.object().put("email", email).put("password", TestUsers.PASSWORD)), null);
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return login.json().path("access_token").asText();
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path tempDir() {
        try {
            return java.nio.file.Files.createTempDirectory("parley-web-restart");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
