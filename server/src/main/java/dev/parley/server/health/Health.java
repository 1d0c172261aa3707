package dev.parley.server.health;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ServerEvent;
import java.time.Clock;
import java.util.List;

/** Builds the bodies of /health and /health/ready from the lifecycle phase and the dependency checks. */
public final class Health {
    private final String version;
    private final String revision;
    private final Lifecycle lifecycle;
    private final List<HealthCheck> checks;
    private final Clock clock;

    public record Readiness(int status, ObjectNode body) {
    }

    public Health(String version, String revision, Lifecycle lifecycle, List<HealthCheck> checks, Clock clock) {
        this.version = version;
        this.revision = revision;
        this.lifecycle = lifecycle;
        this.checks = List.copyOf(checks);
        this.clock = clock;
    }

    public ObjectNode info() {
        ObjectNode body = Json.object();
        body.put("status", "healthy");
        body.put("service", "parley");
        body.put("version", version);
        body.put("revision", revision);
        body.put("timestamp", ServerEvent.formatTimestamp(clock.instant()));
        return body;
    }

    public Readiness readiness() {
        ObjectNode checkBody = Json.object();
        boolean down = false;
        boolean degraded = false;
        for (HealthCheck check : checks) {
            HealthCheck.State state = check.state();
            down |= state == HealthCheck.State.DOWN;
            degraded |= state == HealthCheck.State.DEGRADED;
            checkBody.put(check.name(), check.describe());
        }
        String status;
        int code;
        switch (lifecycle.phase()) {
            case STARTING -> {
                status = "not_ready";
                code = 503;
            }
            case DRAINING -> {
                status = "draining";
                code = 503;
            }
            default -> {
                status = down ? "not_ready" : degraded ? "degraded" : "ready";
                code = down ? 503 : 200;
            }
        }
        ObjectNode body = Json.object();
        body.put("status", status);
        body.set("checks", checkBody);
        return new Readiness(code, body);
    }
}
