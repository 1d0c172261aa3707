package dev.parley.cli.deploy;

import dev.parley.cli.Cli;
import dev.parley.cli.CommandRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What every step of a deploy reads and nothing changes once it starts: the process, the options, the runner of other
 * programs, the progress output, the version being deployed and the traffic tag of the new revision.
 *
 * @param version the git commit of the checkout (12 hex digits), else a UTC time stamp
 */
record DeployContext(Cli cli, DeployOptions options, CommandRunner runner, Progress progress, String version,
                     String tag) {

    /** The Artifact Registry repository images are pushed to. */
    String registry() {
        return options.region() + "-docker.pkg.dev/" + options.project() + "/" + options.repository();
    }

    /** The image a build pushes (by tag; it is deployed by the digest the builder prints). */
    String builtImage() {
        return registry() + "/parley:" + version;
    }

    /** The Google Cloud APIs the deploy needs enabled in the project. */
    List<String> requiredApis() {
        Set<String> apis = new LinkedHashSet<>();
        apis.add("run.googleapis.com");
        if (!options.secrets().isEmpty()) {
            apis.add("secretmanager.googleapis.com");
        }
        if (options.buildsImage()) {
            apis.add("artifactregistry.googleapis.com");
        }
        return List.copyOf(apis);
    }

    /** The image builder, with the reference it should push. */
    List<String> imageCommand(String target) {
        List<String> command = new ArrayList<>(command("PARLEY_IMAGE_COMMAND",
                List.of(cli.home().resolve("bin/image.sh").toString())));
        command.addAll(List.of("--push", target));
        return command;
    }

    /** The validator, against {@code url}, writing both reports. */
    List<String> validateCommand(String url) {
        List<String> command = new ArrayList<>(command("PARLEY_VALIDATE_COMMAND",
                List.of(cli.home().resolve("bin/parley").toString(), "validate")));
        command.addAll(List.of("--url", url, "--register", "--report", report().toString(), "--json",
                reportJson().toString()));
        return command;
    }

    /** Where the validation report of this deploy is written, as Markdown. */
    Path report() {
        return options.reportDir().resolve("validation-" + tag + ".md");
    }

    /** Where the validation report of this deploy is written, as JSON. */
    Path reportJson() {
        return options.reportDir().resolve("validation-" + tag + ".json");
    }

    /**
     * Runs a program on this machine (the image builder, the validator) after showing it, its output going to standard
     * error; one that cannot start fails the deploy with {@code exit}, saying that {@code program} cannot run.
     */
    CommandRunner.Result runHere(List<String> command, Duration timeout, DeployExit exit, String program,
                                 List<String> nextSteps) {
        progress.ran(Gcloud.shell(command));
        try {
            return runner.run(command, timeout, cli.err(), cli.err());
        } catch (CommandRunner.MissingProgramException e) {
            throw new DeployFailure(exit, program + " cannot run: " + e.getMessage(), nextSteps);
        }
    }

    private List<String> command(String variable, List<String> fallback) {
        String override = cli.env().get(variable);
        if (override == null || override.isBlank()) {
            return fallback;
        }
        return Arrays.stream(override.strip().split("\\s+")).toList();
    }
}
