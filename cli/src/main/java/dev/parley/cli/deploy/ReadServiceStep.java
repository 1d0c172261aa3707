package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.cli.CommandRunner;
import java.util.List;

/** Reads the service, if it exists, and who serves its traffic now (for the summary and a rollback). */
final class ReadServiceStep implements DeployStep {
    private final DeployContext context;

    ReadServiceStep(DeployContext context) {
        this.context = context;
    }

    @Override
    public String title(DeployState state) {
        return "Service: reading " + context.options().service();
    }

    @Override
    public DeployState run(DeployState state) {
        DeployOptions options = context.options();
        CommandRunner.Result described = state.gcloud().run(Gcloud.describeService(options.service(),
                options.region(), options.project()));
        if (!described.ok()) {
            String error = Gcloud.error(described);
            if (!error.contains("Cannot find service")) {
                throw new DeployFailure(DeployExit.DEPLOY_FAILED, "service " + options.service() + " cannot be read ("
                        + error + ")", state.account() + " needs roles/run.developer on the project or the service.");
            }
            context.progress().detail("not found: this deploy creates it, and Cloud Run makes a new service's first "
                    + "revision serve at once, so it is validated while it already serves");
            return state.withService(true, List.of(), null);
        }
        JsonNode service = Gcloud.parse(described.stdout(), "gcloud run services describe");
        List<TrafficTarget> serving = TrafficTarget.serving(service);
        context.progress().detail("serving now: " + TrafficTarget.describe(serving));
        return state.withService(false, serving, service.path("status").path("url").asText(null));
    }
}
