package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ApiResponse;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;

/** {@code health} and {@code readiness}: GET /health (and its alias /api/health), GET /health/ready. */
final class ServerChecks {
    private ServerChecks() {
    }

    static void health(Target target, Probe probe) {
        ApiResponse answer = target.http.health();
        probe.measureAnswer(answer);
        JsonNode body = answer.json();
        String service = body.path("service").asText("");
        String version = body.path("version").asText("");
        String revision = body.path("revision").asText("");
        if (!service.isEmpty()) {
            target.serverService = service;
            probe.measure("service", service);
        }
        if (!version.isEmpty()) {
            target.serverVersion = version;
            probe.measure("version", version);
        }
        if (!revision.isEmpty()) {
            target.serverRevision = revision;
            probe.measure("revision", revision);
        }
        probe.expect(answer.status() == 200, "GET /health answers 200",
                () -> answer.status() + " " + Frames.excerpt(answer.body()));
        probe.expect(body.path("status").asText("").equals("healthy"), "GET /health has status \"healthy\"",
                () -> Frames.excerpt(answer.body()));
        for (String field : new String[] {"service", "version", "revision", "timestamp"}) {
            probe.expect(!body.path(field).asText("").isEmpty(), "GET /health has a non-empty " + field,
                    () -> Frames.excerpt(answer.body()));
        }
        String timestamp = body.path("timestamp").asText("");
        if (!timestamp.isEmpty()) {
            probe.expect(isInstant(timestamp), "an ISO-8601 UTC timestamp in GET /health", () -> timestamp);
        }

        ApiResponse alias = target.http.get("/api/health", null);
        probe.measure("api_health_http_ms", alias.elapsed().toMillis());
        probe.expect(alias.status() == 200 && alias.json().path("status").asText("").equals("healthy"),
                "GET /api/health answers 200 with status \"healthy\"",
                () -> alias.status() + " " + Frames.excerpt(alias.body()));
    }

    static void readiness(Target target, Probe probe) {
        ApiResponse answer = target.http.ready();
        probe.measureAnswer(answer);
        JsonNode body = answer.json();
        String status = body.path("status").asText("");
        if (!status.isEmpty()) {
            probe.measure("status", status);
        }
        JsonNode checks = body.path("checks");
        for (Map.Entry<String, JsonNode> check : checks.properties()) {
            probe.measure("checks." + check.getKey(), check.getValue().asText());
        }
        probe.expect(answer.status() == 200 && status.equals("ready"),
                "GET /health/ready answers 200 with status \"ready\"",
                () -> answer.status() + " " + Frames.excerpt(answer.body()));
        probe.expect(checks.path("database").asText("").equals("up"), "checks.database \"up\"",
                () -> Frames.excerpt(answer.body()));
    }

    static boolean isInstant(String text) {
        try {
            Instant.parse(text);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }
}
