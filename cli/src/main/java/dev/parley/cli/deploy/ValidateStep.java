package dev.parley.cli.deploy;

import dev.parley.cli.CommandRunner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the validator against the new revision's own URL, writing its reports into {@code --report-dir}; its exit
 * status decides whether traffic may move.
 */
final class ValidateStep implements DeployStep {
    private static final Duration VALIDATE_TIMEOUT = Duration.ofMinutes(15);

    private final DeployContext context;

    ValidateStep(DeployContext context) {
        this.context = context;
    }

    @Override
    public String title(DeployState state) {
        return "Validate: " + state.tagUrl();
    }

    @Override
    public DeployState run(DeployState state) {
        DeployOptions options = context.options();
        try {
            Files.createDirectories(options.reportDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the report directory " + options.reportDir(), e);
        }
        CommandRunner.Result result = context.runHere(context.validateCommand(state.tagUrl()), VALIDATE_TIMEOUT,
                DeployExit.VALIDATION_FAILED, "the validator", List.of(state.trafficStatement(),
                        "Run from a Parley checkout (bin/parley) or set PARLEY_VALIDATE_COMMAND."));
        DeployState validated = state.withValidation(new DeployState.Validation(
                result.timedOut() ? -1 : result.exitCode(), context.report(), context.reportJson()));
        if (!result.ok()) {
            throw new DeployFailure(DeployExit.VALIDATION_FAILED, "revision " + state.revision()
                    + " failed validation at " + state.tagUrl() + " ("
                    + (result.timedOut() ? "timed out" : "validator exit " + result.exitCode()) + ")",
                    nextSteps(state), validated);
        }
        context.progress().detail("passed; report: " + context.report());
        return validated;
    }

    private List<String> nextSteps(DeployState state) {
        DeployOptions options = context.options();
        List<String> next = new ArrayList<>();
        next.add(state.trafficStatement());
        next.add("Read the report: " + context.report() + " (JSON: " + context.reportJson() + ")");
        if (state.newService()) {
            next.add("The service is new, so this revision already serves its traffic: fix and deploy again, or "
                    + "delete the service: gcloud run services delete " + options.service() + " --region "
                    + options.region() + " --project " + options.project());
        } else {
            next.add("The revision stays reachable at " + state.tagUrl() + " for a closer look; drop its tag "
                    + "afterwards (an addressable revision keeps its minimum instances running): gcloud run services "
                    + "update-traffic " + options.service() + " --region " + options.region() + " --project "
                    + options.project() + " --remove-tags " + context.tag());
        }
        return next;
    }
}
