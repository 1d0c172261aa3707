package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.cli.CommandRunner;
import java.util.List;

/**
 * The only step that changes who serves: all traffic to the validated revision (its candidate tag removed in the same
 * change), then the split read back to check that the revision serves 100%.
 */
final class PromoteStep implements DeployStep {
    private final DeployContext context;

    PromoteStep(DeployContext context) {
        this.context = context;
    }

    @Override
    public String title(DeployState state) {
        return "Traffic: all of it to " + state.revision();
    }

    @Override
    public DeployState run(DeployState state) {
        DeployOptions options = context.options();
        String revision = state.revision();
        List<String> move = Gcloud.moveTraffic(options.service(), options.region(), options.project(), revision,
                context.tag());
        List<String> describe = Gcloud.describeService(options.service(), options.region(), options.project());
        CommandRunner.Result moved = state.gcloud().run(move);
        if (!moved.ok()) {
            throw new DeployFailure(DeployExit.TRAFFIC_FAILED, "moving traffic to " + revision + " failed: "
                    + Gcloud.error(moved), List.of(state.trafficStatement(), "Try again: " + Gcloud.line(move)));
        }
        CommandRunner.Result described = state.gcloud().run(describe);
        if (!described.ok()) {
            throw new DeployFailure(DeployExit.TRAFFIC_FAILED, "the traffic split cannot be read back ("
                    + Gcloud.error(described) + ")", List.of("Check it: " + Gcloud.line(describe)));
        }
        JsonNode service = Gcloud.parse(described.stdout(), "gcloud run services describe");
        DeployState promoted = state.withTrafficAfter(TrafficTarget.serving(service),
                service.path("status").path("url").asText(state.serviceUrl()));
        int share = promoted.trafficAfter().stream().filter(t -> t.revision().equals(revision))
                .mapToInt(TrafficTarget::percent).sum();
        if (share != 100) {
            throw new DeployFailure(DeployExit.TRAFFIC_FAILED, "after the move " + revision + " serves " + share
                    + "% (traffic: " + TrafficTarget.describe(promoted.trafficAfter()) + ")",
                    promoted.rollback(options).map(List::of).orElse(List.of()), promoted);
        }
        context.progress().detail(revision + " serves 100% at " + promoted.serviceUrl());
        return promoted;
    }
}
