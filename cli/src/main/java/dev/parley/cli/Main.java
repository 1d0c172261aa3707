package dev.parley.cli;

import dev.parley.cli.deploy.DeployCommand;
import dev.parley.cli.validate.ValidateCommand;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;

/**
 * {@code parley COMMAND [ARGS...]}: the operator commands, {@code validate} and {@code deploy},
 * {@code help [COMMAND]} and {@code completion}. Without a command it prints its usage on standard error and exits 2.
 */
@Command(name = "parley",
        customSynopsis = "parley COMMAND [ARGS...]   (parley help COMMAND, or parley COMMAND --help, for a command's options)",
        description = "Parley's operator commands.", commandListHeading = "%nCommands:%n")
public final class Main implements Callable<Integer> {
    /** How picocli's help command words a name that is not a command. */
    private static final Pattern HELP_UNKNOWN = Pattern.compile("Unknown subcommand '(.*)'\\.");

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
                .addSubcommand("help", new HelpCommand())
                .addSubcommand("completion", new CompletionCommand(cli));
        Usage.configure(parley, cli.out(), cli.err());
        // A mistyped command name is named as such, followed by the list of commands.
        CommandLine.IParameterExceptionHandler shared = parley.getParameterExceptionHandler();
        parley.setParameterExceptionHandler((e, arguments) -> {
            Optional<String> unknown = unknownCommand(parley, e);
            if (unknown.isEmpty()) {
                return shared.handleParseException(e, arguments);
            }
            parley.getErr().println("parley: unknown command '" + unknown.get() + "'");
            parley.usage(parley.getErr());
            parley.getErr().flush();
            return Usage.EXIT_USAGE;
        });
        try {
            return parley.execute(args.toArray(String[]::new));
        } finally {
            parley.getOut().flush();
            parley.getErr().flush();
        }
    }

    /** The command name in {@code parley NAME} or {@code parley help NAME} that is not a command, if that is the error. */
    private static Optional<String> unknownCommand(CommandLine parley, CommandLine.ParameterException e) {
        if (e.getCommandLine() != parley) {
            return Optional.empty();
        }
        if (e instanceof CommandLine.UnmatchedArgumentException unmatched && !unmatched.getUnmatched().isEmpty()) {
            return Optional.of(unmatched.getUnmatched().getFirst());
        }
        Matcher help = HELP_UNKNOWN.matcher(String.valueOf(e.getMessage()));
        return help.matches() ? Optional.of(help.group(1)) : Optional.empty();
    }

    /** {@code parley} alone: the usage, on standard error because no command ran. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Usage.EXIT_USAGE;
    }
}
