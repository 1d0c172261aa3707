package dev.parley.cli.deploy;

import dev.parley.cli.Cli;
import dev.parley.cli.Command;
import dev.parley.cli.UsageException;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** {@code parley deploy}: Parley to Google Cloud Run, validated on its own URL before it gets traffic. */
public final class DeployCommand implements Command {

    @Override
    public String summary() {
        return "deploy to Google Cloud Run: a new revision, validated at its tag URL before it gets traffic";
    }

    @Override
    public int run(List<String> args, Cli cli) {
        if (args.contains("--help") || args.contains("-h")) {
            cli.out().print(DeployOptions.USAGE);
            cli.out().println(exitCodes());
            return 0;
        }
        DeployOptions options;
        try {
            options = DeployOptions.parse(args, cli.workDir());
        } catch (UsageException e) {
            cli.err().println("parley deploy: " + e.getMessage());
            cli.err().println("Run 'parley deploy --help' for the arguments.");
            return DeployExit.USAGE.code();
        }
        return new Deployment(cli, options).run();
    }

    static String exitCodes() {
        return "Exit codes:\n" + Arrays.stream(DeployExit.values())
                .map(exit -> String.format("  %2d  %s", exit.code(), exit.meaning()))
                .collect(Collectors.joining("\n"));
    }
}
