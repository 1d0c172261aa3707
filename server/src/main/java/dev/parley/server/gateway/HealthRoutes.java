package dev.parley.server.gateway;

import dev.parley.server.health.Health;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import java.nio.charset.StandardCharsets;

/** /health, /health/live, /health/ready, /api/health and /metrics. */
final class HealthRoutes implements HttpService {
    private final Health health;
    private final Lifecycle lifecycle;
    private final Metrics metrics;

    HealthRoutes(Health health, Lifecycle lifecycle, Metrics metrics) {
        this.health = health;
        this.lifecycle = lifecycle;
        this.metrics = metrics;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.get("/health", (req, res) -> Http.json(res, 200, health.info()))
                .get("/api/health", (req, res) -> Http.json(res, 200, health.info()))
                .get("/health/live", (req, res) -> {
                    var body = dev.parley.protocol.Json.object().put("status", "alive")
                            .put("phase", lifecycle.phase().name().toLowerCase(java.util.Locale.ROOT));
                    Http.json(res, 200, body);
                })
                .get("/health/ready", (req, res) -> {
                    Health.Readiness readiness = health.readiness();
                    Http.json(res, readiness.status(), readiness.body());
                })
                .get("/metrics", (req, res) -> {
                    res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
                    res.send(metrics.scrape().getBytes(StandardCharsets.UTF_8));
                });
    }
}
