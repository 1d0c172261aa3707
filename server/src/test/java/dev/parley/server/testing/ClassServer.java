package dev.parley.server.testing;

import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One real server ({@link TestApp}) that every test of a class shares: started before the class's first test and
 * closed after its last. For tests that need servers of their own, or several, {@link Servers}.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final ClassServer server = new ClassServer();
 * }</pre>
 */
public final class ClassServer implements BeforeAllCallback, AfterAllCallback {
    private final Map<String, String> overrides;
    private TestApp app;

    /** A server on the defaults. */
    public ClassServer() {
        this(Map.of());
    }

    /** A server with {@code overrides} of its configuration. */
    public ClassServer(Map<String, String> overrides) {
        this.overrides = Map.copyOf(overrides);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        app = TestApp.start(overrides);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (app != null) {
            app.close();
            app = null;
        }
    }

    /** The running server; only between the class's start and end. */
    public TestApp app() {
        if (app == null) {
            throw new IllegalStateException("The class's server runs only while its tests do");
        }
        return app;
    }
}
