package dev.parley.cli.deploy;

import dev.parley.cli.CommandRunner;
import java.time.Duration;
import java.util.List;

/**
 * The image to deploy: the one given with {@code --image}, else one built here and pushed to Artifact Registry, which
 * is then deployed by the digest the builder prints last.
 */
final class ImageStep implements DeployStep {
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(30);

    private final DeployContext context;

    ImageStep(DeployContext context) {
        this.context = context;
    }

    @Override
    public String title(DeployState state) {
        return context.options().image().map(image -> "Image: " + image + " (given)")
                .orElse("Image: building and pushing " + context.builtImage());
    }

    @Override
    public DeployState run(DeployState state) {
        if (context.options().image().isPresent()) {
            return state.withImage(context.options().image().get());
        }
        CommandRunner.Result build = context.runHere(context.imageCommand(context.builtImage()), BUILD_TIMEOUT,
                DeployExit.BUILD_FAILED, "the image builder",
                List.of("Run from a Parley checkout (bin/image.sh) or set PARLEY_IMAGE_COMMAND."));
        if (!build.ok()) {
            throw new DeployFailure(DeployExit.BUILD_FAILED, "the image build or push failed ("
                    + (build.timedOut() ? "timed out after " + BUILD_TIMEOUT.toMinutes() + " min"
                    : "exit " + build.exitCode()) + "); its output is above",
                    "Fix the build, or deploy an existing image with --image REF.");
        }
        String last = build.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).reduce((a, b) -> b)
                .orElse("");
        if (!last.matches("\\S+@sha256:[0-9a-f]{64}")) {
            throw new DeployFailure(DeployExit.BUILD_FAILED, "the image builder did not end with the pushed "
                    + "reference and its digest (its last line was '" + last + "')", List.of());
        }
        context.progress().detail("pushed " + last);
        return state.withImage(last);
    }
}
