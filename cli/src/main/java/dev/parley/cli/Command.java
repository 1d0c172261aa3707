package dev.parley.cli;

import java.util.List;

/** One subcommand of {@code parley}: deploy, validate. */
public interface Command {

    /** One line for {@code parley help}. */
    String summary();

    /**
     * Runs with the arguments that follow the command's name and returns the process exit code: 0 for success, 2 for
     * bad arguments ({@link UsageException}), others as the command documents.
     */
    int run(List<String> args, Cli cli);
}
