package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.cli.CommandRunner;
import dev.parley.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Reads the new revision every {@code --poll-interval} until its Ready condition is True, and fails when it turns
 * False or {@code --ready-timeout} runs out. Cloud Run marks it Ready once its startup probe has answered.
 */
final class AwaitReadyStep implements DeployStep {
    private final DeployContext context;

    AwaitReadyStep(DeployContext context) {
        this.context = context;
    }

    @Override
    public String title(DeployState state) {
        return "Ready: waiting for revision " + state.revision();
    }

    @Override
    public DeployState run(DeployState state) {
        DeployOptions options = context.options();
        String revision = state.revision();
        List<String> describe = Gcloud.describeRevision(revision, options.region(), options.project());
        Instant deadline = context.cli().clock().instant().plus(options.readyTimeout());
        while (true) {
            CommandRunner.Result described = state.gcloud().run(describe);
            if (!described.ok()) {
                throw new DeployFailure(DeployExit.REVISION_NOT_READY, "revision " + revision + " cannot be read ("
                        + Gcloud.error(described) + ")", state.trafficStatement());
            }
            JsonNode ready = condition(Gcloud.parse(described.stdout(), "gcloud run revisions describe"), "Ready");
            String status = ready.path("status").asText("Unknown");
            if (status.equals("True")) {
                context.progress().detail("revision " + revision + " is Ready");
                return state;
            }
            if (status.equals("False")) {
                throw new DeployFailure(DeployExit.REVISION_NOT_READY, "revision " + revision + " is not Ready: "
                        + ready.path("message").asText(ready.path("reason").asText("no reason given")),
                        List.of(state.trafficStatement()));
            }
            if (!context.cli().clock().instant().plus(options.pollInterval()).isBefore(deadline)) {
                throw new DeployFailure(DeployExit.REVISION_NOT_READY, "revision " + revision + " did not become Ready "
                        + "within " + format(options.readyTimeout()) + " (Ready is " + status + ")",
                        List.of(state.trafficStatement(), "Follow it with: " + Gcloud.line(describe)));
            }
            pause(options.pollInterval());
        }
    }

    private static JsonNode condition(JsonNode resource, String type) {
        for (JsonNode condition : resource.path("status").path("conditions")) {
            if (type.equals(condition.path("type").asText())) {
                return condition;
            }
        }
        return Json.object();
    }

    private static String format(Duration duration) {
        if (duration.compareTo(Duration.ofSeconds(1)) < 0) {
            return duration.toMillis() + " ms";
        }
        return duration.compareTo(Duration.ofMinutes(2)) < 0 ? duration.toSeconds() + " s"
                : duration.toMinutes() + " min";
    }

    private static void pause(Duration interval) {
        try {
            Thread.sleep(interval);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the revision", e);
        }
    }
}
