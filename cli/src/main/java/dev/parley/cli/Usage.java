package dev.parley.cli;

import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;

/**
 * How every command line of {@code parley} is parsed and how it answers a mistake, in one place: help on standard
 * output with exit 0; a usage error as {@code parley COMMAND: MESSAGE} (one line per problem, naming the option), the
 * short usage and a pointer to {@code --help}, all on standard error, with exit {@value #EXIT_USAGE}.
 */
public final class Usage {
    /** The exit status of a command line that cannot be run, for every command. */
    public static final int EXIT_USAGE = 2;

    /** Columns of help text: wide enough for a gcloud command or an option with its value on one line. */
    private static final int HELP_WIDTH = 116;

    private Usage() {
    }

    /** Parses and runs the command of {@code line} with {@code args}, returning the exit status. */
    public static int execute(CommandLine line, List<String> args, PrintStream out, PrintStream err) {
        configure(line, out, err);
        try {
            return line.execute(args.toArray(String[]::new));
        } finally {
            line.getOut().flush();
            line.getErr().flush();
        }
    }

    /** Sets the streams and the error handling that every {@code parley} command line shares. */
    public static CommandLine configure(CommandLine line, PrintStream out, PrintStream err) {
        // '@file' arguments stay literal: a password file or an email may begin with '@'.
        line.setExpandAtFiles(false);
        line.setUsageHelpWidth(HELP_WIDTH);
        line.setOut(writer(out));
        line.setErr(writer(err));
        line.setParameterExceptionHandler((e, args) -> {
            CommandLine failed = e.getCommandLine();
            PrintWriter stream = failed.getErr();
            // A command run on its own (as in tests) is still named as operators type it.
            String qualified = failed.getCommandSpec().qualifiedName();
            String name = qualified.startsWith("parley") ? qualified : "parley " + qualified;
            message(e).lines().forEach(problem -> stream.println(name + ": " + problem));
            CommandLine.Help help = failed.getHelp();
            stream.print(help.synopsisHeading() + help.synopsis(help.synopsisHeadingLength()));
            stream.println("Run '" + name + " --help' for the options.");
            stream.flush();
            return EXIT_USAGE;
        });
        return line;
    }

    /** Turns a problem the command found after parsing into the same output and exit status as a parse error. */
    public static ParameterException problem(CommandLine line, String message) {
        return new ParameterException(line, message);
    }

    /** Exit codes and their meaning, in order, for a command's help. */
    public static void exitCodes(CommandLine line, Map<String, String> codes) {
        line.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
    }

    /** One line per problem, each naming the option, worded as operators have known them. */
    public static String message(ParameterException e) {
        return switch (e) {
            case CommandLine.MissingParameterException missing when !missing.getMissing().isEmpty()
                    && missing.getMissing().getFirst() instanceof OptionSpec option ->
                    option.longestName() + " needs a value";
            case CommandLine.UnmatchedArgumentException unmatched when !unmatched.getUnmatched().isEmpty() -> {
                String argument = unmatched.getUnmatched().getFirst();
                int equals = argument.indexOf('=');
                yield argument.startsWith("-") ? "unknown argument " + (equals > 0 ? argument.substring(0, equals)
                        : argument) : "unexpected argument " + argument;
            }
            case CommandLine.OverwrittenOptionException overwritten -> name(overwritten.getOverwritten())
                    + " is given more than once";
            default -> e.getMessage();
        };
    }

    private static String name(ArgSpec spec) {
        return spec instanceof OptionSpec option ? option.longestName() : spec.paramLabel();
    }

    private static PrintWriter writer(PrintStream stream) {
        return new PrintWriter(new OutputStreamWriter(stream, StandardCharsets.UTF_8), true);
    }
}
