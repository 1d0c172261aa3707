package dev.parley.server.testing;

import java.util.ArrayDeque;
import java.util.Deque;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit extension that closes what it opened for a test class: what was opened in a test or its
 * {@code @BeforeEach} is closed after that test (after its {@code @AfterEach} methods), and what was opened in a
 * {@code @BeforeAll} is closed after the class, the last opened first. Subclasses open their kind of resource and
 * hand it to {@link #keep}. Registered in a static {@code @RegisterExtension} field it serves both scopes; in an
 * instance field, tests only. Tests run one at a time (the build does not run them in parallel).
 */
public abstract class TestResources
        implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
    private final Deque<AutoCloseable> forClass = new ArrayDeque<>();
    private final Deque<AutoCloseable> forTest = new ArrayDeque<>();
    private boolean inTest;

    /**
     * Closes {@code resource} (one of this extension's, or another server the test needs: a fake model, an MCP
     * server) at the end of the current test, or of the class when no test is running.
     */
    public final <T extends AutoCloseable> T keep(T resource) {
        (inTest ? forTest : forClass).push(resource);
        return resource;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        inTest = false;
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        inTest = true;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        inTest = false;
        closeAll(forTest);
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        closeAll(forClass);
    }

    private static void closeAll(Deque<AutoCloseable> resources) throws Exception {
        Exception failure = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
