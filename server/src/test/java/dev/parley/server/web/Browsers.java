package dev.parley.server.web;

import dev.parley.server.testing.TestResources;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Headless Chromium for a test class: the class is skipped (or fails when services are required) before anything
 * starts if Chromium or its driver is missing, and every browser opened is closed after the test that opened it.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final Browsers browsers = new Browsers();
 * }</pre>
 */
final class Browsers extends TestResources {

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        Browser.requireInstalled();
        super.beforeAll(context);
    }

    /** A new browser with an empty profile, at desktop size. */
    Browser open() {
        return keep(Browser.open());
    }
}
