package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.cli.CommandRunner;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code gcloud run deploy}: a new revision under the deploy's tag, without traffic (with it, for a service that does
 * not exist yet: Cloud Run refuses {@code --no-traffic} there), and the URL that tag gives it.
 */
final class DeployRevisionStep implements DeployStep {
    private final DeployContext context;

    DeployRevisionStep(DeployContext context) {
        this.context = context;
    }

    @Override
    public String title(DeployState state) {
        return "Deploy: new revision of " + context.options().service() + " tagged " + context.tag()
                + (state.newService() ? " (new service: it takes traffic at once)" : ", without traffic");
    }

    @Override
    public DeployState run(DeployState state) {
        DeployOptions options = context.options();
        String tag = context.tag();
        ServiceSpec spec = ServiceSpec.of(options, state.image());
        CommandRunner.Result deployed = state.gcloud().run(spec.deployCommand(tag, !state.newService()),
                Gcloud.DEPLOY_TIMEOUT);
        if (!deployed.ok()) {
            throw failure(deployed, state);
        }
        List<String> describe = Gcloud.describeService(options.service(), options.region(), options.project());
        JsonNode service = deployed.stdout().isBlank() ? null : Gcloud.parse(deployed.stdout(), "gcloud run deploy");
        Optional<JsonNode> tagged = service == null ? Optional.empty() : taggedTarget(service);
        if (tagged.isEmpty()) {
            CommandRunner.Result described = state.gcloud().run(describe);
            if (described.ok()) {
                service = Gcloud.parse(described.stdout(), "gcloud run services describe");
                tagged = taggedTarget(service);
            }
        }
        if (tagged.isEmpty()) {
            throw new DeployFailure(DeployExit.DEPLOY_FAILED, "the service has no traffic target tagged " + tag
                    + " after the deploy", "Look at the service: " + Gcloud.line(describe));
        }
        String revision = tagged.get().path("revisionName").asText();
        String tagUrl = tagged.get().path("url").asText(null);
        if (tagUrl == null || tagUrl.isBlank()) {
            throw new DeployFailure(DeployExit.DEPLOY_FAILED, "revision " + revision + " has no URL for tag " + tag,
                    List.of(), state.withRevision(revision, null, state.serviceUrl()));
        }
        String serviceUrl = service.path("status").hasNonNull("url") ? service.path("status").path("url").asText()
                : state.serviceUrl();
        context.progress().detail("revision " + revision + " at " + tagUrl);
        return state.withRevision(revision, tagUrl, serviceUrl);
    }

    private Optional<JsonNode> taggedTarget(JsonNode service) {
        for (JsonNode target : service.path("status").path("traffic")) {
            if (context.tag().equals(target.path("tag").asText())) {
                return Optional.of(target);
            }
        }
        return Optional.empty();
    }

    /** What a refused deploy means, told from gcloud's message: a revision that did not start, or a refusal. */
    private DeployFailure failure(CommandRunner.Result deployed, DeployState state) {
        DeployOptions options = context.options();
        String error = Gcloud.error(deployed);
        List<String> next = new ArrayList<>();
        deployed.stderr().lines().filter(line -> line.startsWith("Logs URL: ")).findFirst()
                .ifPresent(line -> next.add("Read the revision's logs: " + line.substring("Logs URL: ".length())));
        if (error.contains("is not ready and cannot serve traffic")) {
            if (error.contains("Permission denied on secret")) {
                next.add("Give the revision's service account roles/secretmanager.secretAccessor on the secret named "
                        + "above.");
            } else if (error.contains("Image '") && error.contains("not found")) {
                next.add("Check the image reference; push it first or deploy without --image to build one.");
            } else {
                next.add("The container did not answer its startup probe (/health/ready on port " + ServiceSpec.PORT
                        + "); the logs say why (often configuration: a secret's value, the database URL).");
            }
            next.add(state.trafficStatement());
            return new DeployFailure(DeployExit.REVISION_NOT_READY, "the new revision did not start: " + error, next);
        }
        if (deployed.timedOut()) {
            next.add("It may still finish: " + Gcloud.line(Gcloud.describeService(options.service(), options.region(),
                    options.project())));
        }
        next.add(state.trafficStatement());
        return new DeployFailure(DeployExit.DEPLOY_FAILED, "gcloud run deploy failed: " + error, next);
    }
}
