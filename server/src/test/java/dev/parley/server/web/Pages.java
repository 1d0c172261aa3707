package dev.parley.server.web;

import dev.parley.server.agent.Agent;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestResources;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Real servers and headless Chromium for a class of page tests: the class is skipped (or fails when services are
 * required) before anything starts if Chromium or its driver is missing; a server or browser opened in a test (or its
 * {@code @BeforeEach}) is closed after that test, one opened in {@code @BeforeAll} after the class.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final Pages pages = new Pages();
 * ...
 * ChatPage page = pages.open(pages.start(Map.of()));
 * }</pre>
 */
final class Pages extends TestResources {

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        Browser.requireInstalled();
        super.beforeAll(context);
    }

    /** Starts a server on the defaults but for {@code overrides}. */
    TestApp start(Map<String, String> overrides) {
        return keep(TestApp.start(overrides));
    }

    /** Starts a server with the given agent doing the work of every run. */
    TestApp start(Map<String, String> overrides, Clock clock, Agent agent) {
        return keep(TestApp.start(overrides, clock, agent));
    }

    /** The page of {@code app} in a new browser with an empty profile (not loaded yet: {@link ChatPage#open}). */
    ChatPage open(TestApp app) {
        return new ChatPage(keep(Browser.open()), app.baseUrl());
    }
}
