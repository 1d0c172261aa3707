package dev.parley.cli;

import dev.parley.cli.deploy.DeployCommand;
import dev.parley.cli.validate.ValidateCommand;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;

/**
 * {@code parley COMMAND [ARGS...]}: the operator commands, {@code validate} and {@code deploy}, and
 * {@code help [COMMAND]}. Without a command it prints its usage on standard error and exits 2.
 */
@Command(name = "parley", mixinStandardHelpOptions = false,
        customSynopsis = "parley COMMAND [ARGS...]   (parley help COMMAND, or parley COMMAND --help, for a command's options)",
        description = "Parley's operator commands.", commandListHeading = "%nCommands:%n")
public final class Main implements Callable<Integer> {
    @CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "show this text")
    boolean help;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(Arrays.asList(args), Cli.fromProcess()));
    }

    static int run(List<String> args, Cli cli) {
        CommandLine parley = new CommandLine(new Main())
                .addSubcommand("validate", ValidateCommand.commandLine(cli))
                .addSubcommand("deploy", DeployCommand.commandLine(cli))
                .addSubcommand("help", new HelpCommand());
        Usage.configure(parley, cli.out(), cli.err());
        // A mistyped command name is named as such, followed by the list of commands.
        CommandLine.IParameterExceptionHandler shared = parley.getParameterExceptionHandler();
        parley.setParameterExceptionHandler((e, arguments) -> {
            if (e.getCommandLine() == parley && e instanceof CommandLine.UnmatchedArgumentException unmatched
                    && !unmatched.getUnmatched().isEmpty()) {
                parley.getErr().println("parley: unknown command '" + unmatched.getUnmatched().getFirst() + "'");
                parley.usage(parley.getErr());
                parley.getErr().flush();
                return Usage.EXIT_USAGE;
            }
            return shared.handleParseException(e, arguments);
        });
        try {
            return parley.execute(args.toArray(String[]::new));
        } finally {
            parley.getOut().flush();
            parley.getErr().flush();
        }
    }

    /** {@code parley} alone: the usage, on standard error because no command ran. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Usage.EXIT_USAGE;
    }
}
