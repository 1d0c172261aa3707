package dev.parley.cli;

import dev.parley.cli.deploy.DeployCommand;
import dev.parley.cli.validate.ValidateCommand;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** {@code parley COMMAND [ARGS...]}: looks the command up by name and runs it. */
public final class Main {
    /** Every command by name, in the order {@code parley help} lists them. */
    static final Map<String, Supplier<Command>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("validate", ValidateCommand::new);
        COMMANDS.put("deploy", DeployCommand::new);
    }

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(Arrays.asList(args), Cli.fromProcess()));
    }

    static int run(List<String> args, Cli cli) {
        if (args.isEmpty() || List.of("help", "-h", "--help").contains(args.getFirst())) {
            usage(args.isEmpty() ? cli.err() : cli.out());
            return args.isEmpty() ? 2 : 0;
        }
        Supplier<Command> command = COMMANDS.get(args.getFirst());
        if (command == null) {
            cli.err().println("parley: unknown command '" + args.getFirst() + "'");
            usage(cli.err());
            return 2;
        }
        return command.get().run(args.subList(1, args.size()), cli);
    }

    private static void usage(java.io.PrintStream stream) {
        stream.println("Usage: parley COMMAND [ARGS...]   (parley COMMAND --help for a command's arguments)");
        stream.println();
        stream.println("Commands:");
        COMMANDS.forEach((name, command) -> stream.printf("  %-10s %s%n", name, command.get().summary()));
    }
}
