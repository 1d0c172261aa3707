package dev.parley.server.web;

import java.time.Duration;
import java.util.List;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedCondition;
import org.openqa.selenium.support.ui.ExpectedConditions;

/** The chat page as a person uses it: what to click and type, and what to wait for. */
final class ChatPage {
    static final By SIGNIN_VIEW = By.id("signin-view");
    static final By APP_VIEW = By.id("app-view");
    static final By SIGNIN_ALERT = By.id("signin-alert");
    static final By CHAT_ALERT = By.id("chat-alert");
    static final By STATUS = By.id("connection-status");
    static final By COMPOSER = By.id("composer-input");
    static final By SEND = By.id("send");
    static final By STOP = By.id("stop");
    static final By TURNS = By.cssSelector("#messages > .turn");
    static final By THREAD_TITLES = By.cssSelector("#thread-list .thread-title");

    private final Browser browser;
    private final String baseUrl;

    ChatPage(Browser browser, String baseUrl) {
        this.browser = browser;
        this.baseUrl = baseUrl;
    }

    Browser browser() {
        return browser;
    }

    WebDriver driver() {
        return browser.driver();
    }

    /** Loads the page (with an optional #fragment) and waits until it shows either the sign-in form or the chat. */
    ChatPage open(String fragment) {
        driver().get(baseUrl + "/" + (fragment == null ? "" : fragment));
        awaitLoaded();
        return this;
    }

    ChatPage open() {
        return open(null);
    }

    void awaitLoaded() {
        browser.await("the page to show the sign-in form or the chat", ExpectedConditions.or(
                ExpectedConditions.visibilityOfElementLocated(SIGNIN_VIEW),
                ExpectedConditions.visibilityOfElementLocated(APP_VIEW)));
    }

    void register(String email, String password) {
        registerMode(true);
        fillAndSubmit(email, password);
        awaitConnected();
    }

    void signIn(String email, String password) {
        registerMode(false);
        fillAndSubmit(email, password);
        awaitConnected();
    }

    /** Opens the thread with this title from the list (which the page may re-render in between) and waits for it. */
    void openThread(String title) {
        browser.await("the thread '" + title + "' in the list, clicked", driver -> {
            for (WebElement open : driver.findElements(By.cssSelector("#thread-list .thread-open"))) {
                if (open.findElement(By.cssSelector(".thread-title")).getText().equals(title)) {
                    open.click();
                    return true;
                }
            }
            return null;
        });
        browser.await("the thread to open", ExpectedConditions.textToBe(By.id("chat-title"), title));
    }

    /** Switches the form to "Create an account" (true) or "Sign in" (false). */
    void registerMode(boolean register) {
        browser.await("the sign-in form", ExpectedConditions.visibilityOfElementLocated(SIGNIN_VIEW));
        if (driver().findElement(By.id("name-field")).isDisplayed() != register) {
            driver().findElement(By.id("switch-mode")).click();
        }
    }

    void fillAndSubmit(String email, String password) {
        WebElement emailField = driver().findElement(By.id("signin-email"));
        emailField.clear();
        emailField.sendKeys(email);
        WebElement passwordField = driver().findElement(By.id("signin-password"));
        passwordField.clear();
        passwordField.sendKeys(password, Keys.ENTER);
    }

    /** Waits until the socket is open and the page can send. */
    void awaitConnected() {
        browser.await("the chat to be shown", ExpectedConditions.visibilityOfElementLocated(APP_VIEW));
        browser.await("the socket to connect", ExpectedConditions.textMatches(STATUS, java.util.regex.Pattern.compile(
                "^(Connected|Reconnected).*")));
    }

    void loadSample() {
        driver().findElement(By.id("load-sample")).click();
        browser.await("the sample data to load",
                ExpectedConditions.attributeToBe(By.id("sample-result"), "data-state", "loaded"));
    }

    /** Types the question and presses Enter; returns the turn that shows it. */
    WebElement ask(String question) {
        int before = driver().findElements(TURNS).size();
        WebElement composer = driver().findElement(COMPOSER);
        composer.sendKeys(question);
        browser.await("the send button to be enabled", ExpectedConditions.elementToBeClickable(SEND));
        composer.sendKeys(Keys.ENTER);
        browser.await("a new turn for the question", ExpectedConditions.numberOfElementsToBeMoreThan(TURNS, before));
        return lastTurn();
    }

    WebElement lastTurn() {
        List<WebElement> turns = driver().findElements(TURNS);
        return turns.get(turns.size() - 1);
    }

    /** Waits until the last turn is in one of the states (running, completed, cancelled, failed, history). */
    WebElement awaitLastTurn(String what, Duration timeout, String... states) {
        return browser.await(what, timeout, lastTurnIn(states));
    }

    static ExpectedCondition<WebElement> lastTurnIn(String... states) {
        return driver -> {
            List<WebElement> turns = driver.findElements(TURNS);
            if (turns.isEmpty()) {
                return null;
            }
            WebElement last = turns.get(turns.size() - 1);
            String state = last.getAttribute("data-state");
            for (String wanted : states) {
                if (wanted.equals(state)) {
                    return last;
                }
            }
            return null;
        };
    }

    /** Waits until the last turn shows at least this many agent steps (thinking or tool). */
    void awaitSteps(int count) {
        browser.await("at least " + count + " steps of the run", driver -> {
            List<WebElement> turns = driver.findElements(TURNS);
            return !turns.isEmpty()
                    && turns.get(turns.size() - 1).findElements(By.cssSelector(".steps > .step")).size() >= count;
        });
    }

    String status() {
        return driver().findElement(STATUS).getText();
    }

    List<String> threadTitles() {
        return driver().findElements(THREAD_TITLES).stream().map(WebElement::getText).toList();
    }

    String sessionItem(String key) {
        return (String) browser.script("return sessionStorage.getItem(arguments[0]);", key);
    }
}
