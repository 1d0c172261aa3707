package dev.parley.cli.deploy;

import dev.parley.cli.Cli;
import dev.parley.cli.CommandRunner;
import java.nio.file.Files;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * One run of {@code parley deploy}: the steps in order (preflight, image, service, deploy, ready, validate, traffic),
 * each printing its progress on standard error and handing what it learned to the next as an immutable
 * {@link DeployState}; a {@link DeployFailure} stops the run with its exit class. Nothing before the last step changes
 * which revision serves traffic, so a failure anywhere leaves traffic where it was. {@code --dry-run} prints the plan
 * instead ({@link DryRun}); {@link DeployReport} prints the end.
 */
final class Deployment {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
            .withZone(ZoneOffset.UTC);

    private final Cli cli;
    private final DeployOptions options;

    Deployment(Cli cli, DeployOptions options) {
        this.cli = cli;
        this.options = options;
    }

    int run() {
        CommandRunner runner = new CommandRunner(cli.env(), cli.workDir());
        String version = version(runner);
        String tag = options.tag().orElse("cand-" + (version.matches("[0-9a-f]{12}") ? version.substring(0, 7)
                : version));
        DeployContext context = new DeployContext(cli, options, runner,
                new Progress(cli.err(), options.noTraffic() ? 6 : 7), version, tag);
        if (options.dryRun()) {
            return new DryRun(context).run();
        }
        cli.err().printf("parley deploy: service %s in project %s, region %s%n", options.service(), options.project(),
                options.region());
        DeployReport report = new DeployReport(context);
        DeployState state = DeployState.start();
        try {
            for (DeployStep step : steps(context)) {
                context.progress().begin(step.title(state));
                state = step.run(state);
            }
        } catch (DeployFailure failure) {
            return report.finish(failure.state().orElse(state), DeployReport.Result.FAILED, failure.exit(), failure);
        } catch (RuntimeException e) {
            return report.finish(state, DeployReport.Result.FAILED, DeployExit.INTERNAL, new DeployFailure(
                    DeployExit.INTERNAL, "unexpected error: " + e, "Report this with the output above."));
        }
        return report.finish(state, options.noTraffic() ? DeployReport.Result.VALIDATED : DeployReport.Result.PROMOTED,
                DeployExit.OK, null);
    }

    /** The steps of this run: all seven, or without the traffic move for {@code --no-traffic}. */
    private List<DeployStep> steps(DeployContext context) {
        List<DeployStep> steps = new ArrayList<>(List.of(new PreflightStep(context), new ImageStep(context),
                new ReadServiceStep(context), new DeployRevisionStep(context), new AwaitReadyStep(context),
                new ValidateStep(context)));
        if (!options.noTraffic()) {
            steps.add(new PromoteStep(context));
        }
        return steps;
    }

    /** The git commit of the checkout (12 hex digits), else a UTC time stamp. */
    private String version(CommandRunner runner) {
        if (runner.find("git").isPresent() && Files.exists(cli.home().resolve(".git"))) {
            CommandRunner.Result head = runner.run(List.of("git", "-C", cli.home().toString(), "rev-parse",
                    "--short=12", "HEAD"), Duration.ofSeconds(10));
            String sha = head.stdout().strip();
            if (head.ok() && sha.matches("[0-9a-f]{12}")) {
                return sha;
            }
        }
        return STAMP.format(cli.clock().instant());
    }
}
