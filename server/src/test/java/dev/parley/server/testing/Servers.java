package dev.parley.server.testing;

import dev.parley.server.agent.Agent;
import java.time.Clock;
import java.util.Map;

/**
 * Real servers ({@link TestApp}) for a test class, closed for it: one started in {@code @BeforeAll} runs until the
 * class is done, one started in a test or {@code @BeforeEach} until that test is done.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final Servers servers = new Servers();
 * }</pre>
 */
public final class Servers extends TestResources {

    public TestApp start() {
        return keep(TestApp.start());
    }

    public TestApp start(Map<String, String> overrides) {
        return keep(TestApp.start(overrides));
    }

    public TestApp start(Map<String, String> overrides, Clock clock) {
        return keep(TestApp.start(overrides, clock));
    }

    /** Starts the app with the given agent doing the work of every run. */
    public TestApp start(Map<String, String> overrides, Clock clock, Agent agent) {
        return keep(TestApp.start(overrides, clock, agent));
    }

    /** Starts a new app on the data directory of a closed one, as a restart of the same instance would. */
    public TestApp restart(TestApp previous, Map<String, String> overrides) {
        return keep(TestApp.restart(previous, overrides));
    }
}
