package dev.parley.cli.validate;

import dev.parley.cli.Cli;
import dev.parley.cli.Command;

import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code parley validate}: checks a running server against the wire contract (docs/protocol.md) and reports what it
 * measured. Progress (one line per check) and the summary go to {@code out}; usage errors to {@code err}.
 *
 * <p>Exit codes: {@value #EXIT_PASSED} every check passed (a skip the options asked for excepted);
 * {@value #EXIT_FAILED} a check failed, or could not run because one it needs failed; {@value #EXIT_USAGE} the
 * command line is wrong; {@value #EXIT_UNREACHABLE} the target could not be reached; {@value #EXIT_REPORT_UNWRITTEN}
 * the checks ran but a report file could not be written.
 */
public final class ValidateCommand implements Command {
    @Override
    public String summary() {
        return "check a live deployment end to end over the wire and report what was measured";
    }

    @Override
    public int run(List<String> args, Cli cli) {
        return run(args.toArray(String[]::new), cli.env(), System.in, cli.out(), cli.err());
    }

    public static final int EXIT_PASSED = 0;
    public static final int EXIT_FAILED = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_UNREACHABLE = 3;
    public static final int EXIT_REPORT_UNWRITTEN = 4;

    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, Map.of(), InputStream.nullInputStream(), out, err);
    }

    /** {@code env} and {@code in} supply a password or token kept off the command line. */
    public static int run(String[] args, Map<String, String> env, InputStream in, PrintStream out, PrintStream err) {
        Options options;
        try {
            options = Options.parse(args, env, in);
        } catch (Options.HelpRequested help) {
            out.print(Options.USAGE);
            return EXIT_PASSED;
        } catch (Options.UsageException e) {
            for (String line : e.getMessage().split("\n")) {
                err.println("parley validate: " + line);
            }
            err.println("Run 'parley validate --help' for the options.");
            return EXIT_USAGE;
        }
        options.warnings().forEach(line -> err.println("parley validate: warning: " + line));
        List<String> unwritable = new ArrayList<>();
        requireWritableParent(options.report(), "--report", unwritable);
        requireWritableParent(options.json(), "--json", unwritable);
        if (!unwritable.isEmpty()) {
            unwritable.forEach(line -> err.println("parley validate: " + line));
            return EXIT_USAGE;
        }

        Validator.Outcome outcome = new Validator(options, out, Clock.systemUTC()).run();
        int code = outcome.exitCode();
        out.println();
        out.println(outcome.passed() + " passed, " + outcome.failed() + " failed, " + outcome.skipped() + " skipped"
                + (outcome.unreachable() ? "; " + options.url() + " could not be reached" : "")
                + "; exit code " + code);
        try {
            if (options.report() != null) {
                Files.writeString(options.report(), Report.markdown(outcome), StandardCharsets.UTF_8);
                out.println("report: " + options.report());
            }
            if (options.json() != null) {
                Files.writeString(options.json(), Json.MAPPER.writerWithDefaultPrettyPrinter()
                        .writeValueAsString(Report.json(outcome)) + "\n", StandardCharsets.UTF_8);
                out.println("json: " + options.json());
            }
        } catch (IOException e) {
            err.println("parley validate: cannot write the report: " + e.getMessage());
            return EXIT_REPORT_UNWRITTEN;
        }
        return code;
    }

    private static void requireWritableParent(Path file, String option, List<String> problems) {
        if (file == null) {
            return;
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            problems.add(option + ": the folder " + parent + " does not exist");
        } else if (!Files.isWritable(parent)) {
            problems.add(option + ": the folder " + parent + " is not writable");
        }
    }
}
