package dev.parley.server.gateway;

import dev.parley.server.config.Config;
import dev.parley.server.health.Health;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import io.helidon.http.DirectHandler;
import io.helidon.webserver.ErrorHandling;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.DirectHandlers;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.HttpService;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The HTTP and WebSocket edge: the only place that knows Helidon. It turns the features' services into routes,
 * starts the listener, and stops it on shutdown.
 */
public final class Gateway implements AutoCloseable {
    /** How far past the routes' body limit the web server reads before it gives up on a connection. */
    static final int TRANSPORT_BODY_FACTOR = 4;

    private final WebServer server;
    private final List<String> routes;

    private Gateway(WebServer server, List<String> routes) {
        this.server = server;
        this.routes = routes;
    }

    /** What the edge serves; each feature's routes are added to this list by the composition root. */
    public record Services(Config config, Metrics metrics, Health health, Lifecycle lifecycle,
                           List<HttpService> routes) {
    }

    public static Gateway start(Services services) {
        return start(services, null);
    }

    /** Starts the listener with the HTTP routes and, when given, the WebSocket endpoint. */
    public static Gateway start(Services services, SocketEndpoint sockets) {
        Config.Server server = services.config().server();
        HttpRouting.Builder routing = HttpRouting.builder();
        new HttpEdge(services.metrics()).install(routing);
        Set<String> routes = new TreeSet<>();
        RouteRecorder rules = new RouteRecorder(routing, routes);
        rules.register(new HealthRoutes(services.health(), services.lifecycle(), services.metrics()));
        rules.register(new ApiDocuments());
        services.routes().forEach(rules::register);
        WebServerConfig.Builder builder = WebServer.builder()
                .host(server.host())
                .port(server.port())
                .shutdownHook(false)
                .backlog(4096)
                // Plain sockets rather than NIO channels: each NIO connection holds two 8 KB buffers for its whole
                // life, which for thousands of idle sockets is the largest part of the heap (docs/benchmarks.md).
                .useNio(false)
                // Small frames go out at once: with Nagle's algorithm on, a frame written while the previous one is
                // unacknowledged waits for the client's delayed ACK (40 ms on Linux), once per run event.
                .connectionOptions(options -> options.tcpNoDelay(true))
                // The routes enforce the body limit themselves and answer 413 with the connection kept open; the web
                // server then reads and drops the rest of the body. Its own cap sits above theirs because, over it, it
                // answers and closes at once: the client, still sending, gets a reset that can swallow the answer.
                .maxPayloadSize(TRANSPORT_BODY_FACTOR * (long) server.maxRequestBytes())
                .shutdownGracePeriod(Duration.ofSeconds(2));
        DirectHandlers.Builder direct = DirectHandlers.builder();
        TransportErrors.addTo(direct);
        if (sockets != null) {
            sockets.install(routing, rules, builder);
            direct.addHandler(DirectHandler.EventType.FORBIDDEN, sockets.forbiddenOriginHandler());
        }
        // Helidon's message reaches the handlers, which use it to tell oversized headers apart; it is never sent.
        builder.errorHandling(ErrorHandling.builder().includeEntity(true).build())
                .directHandlers(direct.build());
        WebServer webServer = builder.routing(routing).build().start();
        if (!webServer.isRunning()) {
            // Helidon logs a listener that failed to bind and returns; the start-up must fail, not report success.
            throw new IllegalStateException("The listener could not start on " + server.host() + ":" + server.port()
                    + " (PARLEY_HOST, PORT); the cause is logged above.");
        }
        return new Gateway(webServer, List.copyOf(routes));
    }

    /** Every HTTP route served, as {@code METHOD /path/{param}}, sorted. */
    public List<String> routes() {
        return routes;
    }

    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.stop();
    }
}
