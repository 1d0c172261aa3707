package dev.parley.cli.deploy;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * What a deploy prints while it runs, on standard error: the numbered steps, their details, and every command it
 * runs, which it also keeps for the JSON summary. Owned by the deploy's one thread.
 */
final class Progress {
    private final PrintStream err;
    private final int steps;
    private final List<String> commands = new ArrayList<>();
    private int step;

    Progress(PrintStream err, int steps) {
        this.err = err;
        this.steps = steps;
    }

    void begin(String title) {
        step++;
        err.printf("[%d/%d] %s%n", step, steps, title);
    }

    void detail(String text) {
        err.println("      " + text);
    }

    /** A command about to run, as an operator would type it. */
    void ran(String line) {
        commands.add(line);
        err.println("      $ " + line);
    }

    List<String> commands() {
        return List.copyOf(commands);
    }
}
