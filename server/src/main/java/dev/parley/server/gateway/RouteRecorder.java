package dev.parley.server.gateway;

import io.helidon.http.Method;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRoute;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import java.util.Set;

/**
 * Routing rules that pass every route on to Helidon's and note it as {@code METHOD /path}, so that the published API
 * document can be compared with what the code really serves ({@link Gateway#routes()}).
 *
 * <p>Only routes with a method and a path template are noted; a feature that adds a bare {@link HttpRoute} is not
 * described by the document and would show up missing from it. {@code get}, {@code post} and the other verbs keep
 * their default bodies, which route each handler through {@link #route(Method, String, Handler)}.
 */
final class RouteRecorder implements HttpRules {
    private final HttpRules delegate;
    private final Set<String> routes;
    private final String prefix;

    RouteRecorder(HttpRules delegate, Set<String> routes) {
        this(delegate, routes, "");
    }

    private RouteRecorder(HttpRules delegate, Set<String> routes, String prefix) {
        this.delegate = delegate;
        this.routes = routes;
        this.prefix = prefix;
    }

    @Override
    public HttpRules register(HttpService... services) {
        for (HttpService service : services) {
            delegate.register(recorded(service, prefix));
        }
        return this;
    }

    @Override
    public HttpRules register(String path, HttpService... services) {
        for (HttpService service : services) {
            delegate.register(path, recorded(service, prefix + path));
        }
        return this;
    }

    @Override
    public HttpRules route(HttpRoute route) {
        delegate.route(route);
        return this;
    }

    @Override
    public HttpRules route(Method method, String path, Handler handler) {
        note(method.text(), path);
        delegate.route(method, path, handler);
        return this;
    }

    @Override
    public HttpRules any(String path, Handler... handlers) {
        note("ANY", path);
        delegate.any(path, handlers);
        return this;
    }

    private void note(String method, String path) {
        routes.add(method + " " + prefix + path);
    }

    private HttpService recorded(HttpService service, String servicePrefix) {
        return new HttpService() {
            @Override
            public void routing(HttpRules rules) {
                service.routing(new RouteRecorder(rules, routes, servicePrefix));
            }

            @Override
            public void beforeStart() {
                service.beforeStart();
            }

            @Override
            public void afterStop() {
                service.afterStop();
            }
        };
    }
}
