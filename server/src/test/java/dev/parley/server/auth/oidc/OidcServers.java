package dev.parley.server.auth.oidc;

import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestResources;
import java.time.Clock;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A fake OpenID provider and the real app configured with it as "corp" ({@link OidcFlows#env}), both started
 * before each test and closed after it.
 *
 * <pre>{@code
 * @RegisterExtension
 * final OidcServers oidc = new OidcServers();
 * }</pre>
 */
final class OidcServers extends TestResources {
    private final Clock clock;
    private final Supplier<Map<String, String>> moreEnv;
    private FakeOpenIdProvider provider;
    private TestApp app;

    OidcServers() {
        this(Clock.systemUTC(), Map::of);
    }

    /** The app reads time from {@code clock}; {@code moreEnv} adds settings, read before each test. */
    OidcServers(Clock clock, Supplier<Map<String, String>> moreEnv) {
        this.clock = clock;
        this.moreEnv = moreEnv;
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        super.beforeEach(context);
        Map<String, String> more = moreEnv.get();
        provider = keep(FakeOpenIdProvider.start());
        app = keep(TestApp.start(OidcFlows.env(provider, more), clock));
    }

    FakeOpenIdProvider provider() {
        return provider;
    }

    TestApp app() {
        return app;
    }
}
