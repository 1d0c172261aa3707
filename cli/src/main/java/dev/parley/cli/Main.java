package dev.parley.cli;

import dev.parley.cli.validate.ValidateCommand;
import java.io.PrintStream;
import java.util.Arrays;

/** The command line behind {@code bin/parley}: the first argument names the command, the rest are its own. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.println("usage: parley-cli COMMAND [ARGS...]; commands: validate");
            return 2;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        return switch (args[0]) {
            case "validate" -> ValidateCommand.run(rest, out, err);
            default -> {
                err.println("parley-cli: unknown command '" + args[0] + "'; commands: validate");
                yield 2;
            }
        };
    }
}
