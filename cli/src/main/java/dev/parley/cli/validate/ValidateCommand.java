package dev.parley.cli.validate;

import dev.parley.cli.Cli;
import dev.parley.cli.Usage;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * {@code parley validate}: checks a running server against the wire contract (docs/protocol.md) and reports what it
 * measured. Progress (one line per check) goes to standard error; the summary, or with {@code --json} alone the JSON
 * report, to standard output; usage errors to standard error.
 *
 * <p>Exit codes: {@value #EXIT_PASSED} every check passed (a skip the options asked for excepted);
 * {@value #EXIT_FAILED} a check failed, or could not run because one it needs failed; {@value #EXIT_USAGE} the
 * command line is wrong; {@value #EXIT_UNREACHABLE} the target could not be reached; {@value #EXIT_REPORT_UNWRITTEN}
 * the checks ran but a report file could not be written.
 */
@Command(name = "validate", sortOptions = false,
        header = "check a live deployment end to end over the wire and report what was measured",
        customSynopsis = {
            "parley validate --url URL [--email E [--password-file F] | --token-file F | --register]",
            "                       [--users N] [--report FILE.md] [--json [FILE.json]] [--timeout S]"},
        description = {"", "Checks a running Parley server against the wire contract and reports what it measured. "
            + "Progress goes to standard error; the summary, or the JSON report with --json alone, to standard output."},
        optionListHeading = "%nOptions:%n",
        footerHeading = "%n",
        footer = {"The isolation and concurrent_users checks register further users whatever the options.", "",
            "Environment:",
            "  PARLEY_VALIDATE_PASSWORD  the password for --email when --password-file is not given",
            "  PARLEY_VALIDATE_TOKEN     the first user's access token when none of --email, --register, --token-file "
                + "is given"})
public final class ValidateCommand implements Callable<Integer> {
    public static final int EXIT_PASSED = 0;
    public static final int EXIT_FAILED = 1;
    public static final int EXIT_USAGE = Usage.EXIT_USAGE;
    public static final int EXIT_UNREACHABLE = 3;
    public static final int EXIT_REPORT_UNWRITTEN = 4;

    private static final Map<String, String> EXIT_CODES = exitCodes();

    @Option(names = "--url", paramLabel = "URL", order = 1,
            description = "the server's base URL (http://host:port or https://host)")
    String url;

    @Option(names = "--register", order = 2, description = "register a fresh user with a generated email (the default)")
    boolean register;

    @Option(names = "--email", paramLabel = "E", order = 3, description = {"log in as an existing user; the password "
            + "comes from PARLEY_VALIDATE_PASSWORD or --password-file"})
    String email;

    @Option(names = "--password-file", paramLabel = "F", order = 4,
            description = "read the password from the first line of F ('-' for stdin)")
    String passwordFile;

    @Option(names = "--token-file", paramLabel = "F", order = 5, description = "use the access token on the first line "
            + "of F ('-' for stdin) for the first user; PARLEY_VALIDATE_TOKEN set (without --email or --register) does "
            + "the same")
    String tokenFile;

    @Option(names = "--password", paramLabel = "P", order = 6,
            description = "accepted, with a warning: every user of the machine sees it in ps")
    String password;

    @Option(names = "--token", paramLabel = "T", order = 7,
            description = "accepted, with a warning: every user of the machine sees it in ps")
    String token;

    @Option(names = "--users", paramLabel = "N", order = 8,
            description = "users for the concurrent_users check (default 5; 0 skips it)")
    String users;

    @Option(names = "--report", paramLabel = "FILE.md", order = 9, description = "write the report as Markdown")
    String report;

    @Option(names = "--json", paramLabel = "FILE.json", arity = "0..1", fallbackValue = Options.STDOUT, order = 10,
            description = "write the report as JSON to FILE.json; without a file (or with '-') print it on standard "
                    + "output, and the summary goes to standard error")
    String json;

    @Option(names = "--timeout", paramLabel = "S", order = 11, description = "the longest wait, in seconds, for any "
            + "one answer: an HTTP response, a socket frame, a run's completion (default 30)")
    String timeout;

    @Option(names = {"-h", "--help"}, usageHelp = true, order = 12, description = "show this text")
    boolean help;

    /** Unknown options, reported together with every other problem rather than one at a time. */
    @Unmatched
    List<String> unknown = new ArrayList<>();

    @Spec
    CommandLine.Model.CommandSpec spec;

    private final Map<String, String> env;
    private final InputStream in;
    private final PrintStream out;
    private final PrintStream err;

    ValidateCommand(Map<String, String> env, InputStream in, PrintStream out, PrintStream err) {
        this.env = Map.copyOf(env);
        this.in = in;
        this.out = out;
        this.err = err;
    }

    /** The command as {@code parley validate}, reading the environment and standard input of {@code cli}. */
    public static CommandLine commandLine(Cli cli) {
        return commandLine(new ValidateCommand(cli.env(), System.in, cli.out(), cli.err()));
    }

    static CommandLine commandLine(ValidateCommand command) {
        CommandLine line = new CommandLine(command);
        // An option given twice takes its last value, as validate always has (deploy refuses it).
        line.setOverwrittenOptionsAllowed(true);
        Usage.exitCodes(line, EXIT_CODES);
        return line;
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, Map.of(), InputStream.nullInputStream(), out, err);
    }

    /** {@code env} and {@code in} supply a password or token kept off the command line. */
    public static int run(String[] args, Map<String, String> env, InputStream in, PrintStream out, PrintStream err) {
        return Usage.execute(commandLine(new ValidateCommand(env, in, out, err)), List.of(args), out, err);
    }

    static Options parse(String[] args) throws Options.UsageException {
        return parse(args, Map.of(), InputStream.nullInputStream());
    }

    /** The parsed command line as {@link Options}, for tests: every problem in the exception's message. */
    static Options parse(String[] args, Map<String, String> env, InputStream stdin) throws Options.UsageException {
        ValidateCommand command = new ValidateCommand(env, stdin, System.out, System.err);
        try {
            Usage.configure(commandLine(command), System.out, System.err).parseArgs(args);
        } catch (CommandLine.ParameterException e) {
            throw new Options.UsageException(Usage.message(e));
        }
        return command.options();
    }

    private Options options() throws Options.UsageException {
        List<String> problems = new ArrayList<>();
        unknown.forEach(argument -> problems.add((argument.startsWith("-") ? "unknown option '"
                : "unexpected argument '") + argument + "'"));
        Options.Arguments arguments = new Options.Arguments(url, register, email, password, passwordFile, token,
                tokenFile, users, report, json, timeout);
        return Options.from(arguments, env, in, problems);
    }

    @Override
    public Integer call() {
        Options options;
        try {
            options = options();
        } catch (Options.UsageException e) {
            throw Usage.problem(spec.commandLine(), e.getMessage());
        }
        options.warnings().forEach(line -> err.println("parley validate: warning: " + line));
        List<String> unwritable = new ArrayList<>();
        requireWritableParent(options.report(), "--report", unwritable);
        requireWritableParent(options.json(), "--json", unwritable);
        if (!unwritable.isEmpty()) {
            unwritable.forEach(line -> err.println("parley validate: " + line));
            return EXIT_USAGE;
        }

        Validator.Outcome outcome = new Validator(options, err, Clock.systemUTC()).run();
        int code = outcome.exitCode();
        // With the JSON report on standard output, the summary joins the progress on standard error.
        PrintStream summary = options.jsonOnStdout() ? err : out;
        summary.println();
        summary.println(outcome.passed() + " passed, " + outcome.failed() + " failed, " + outcome.skipped()
                + " skipped" + (outcome.unreachable() ? "; " + options.url() + " could not be reached" : "")
                + "; exit code " + code);
        try {
            if (options.report() != null) {
                Files.writeString(options.report(), Report.markdown(outcome), StandardCharsets.UTF_8);
                summary.println("report: " + options.report());
            }
            String json = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(Report.json(outcome)) + "\n";
            if (options.json() != null) {
                Files.writeString(options.json(), json, StandardCharsets.UTF_8);
                summary.println("json: " + options.json());
            }
            if (options.jsonOnStdout()) {
                out.print(json);
                out.flush();
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

    private static Map<String, String> exitCodes() {
        Map<String, String> codes = new LinkedHashMap<>();
        codes.put(" " + EXIT_PASSED, "every check passed (a skip requested by the options excepted)");
        codes.put(" " + EXIT_FAILED, "a check failed or could not run");
        codes.put(" " + EXIT_USAGE, "usage error, or a report's folder does not exist");
        codes.put(" " + EXIT_UNREACHABLE, "the target could not be reached");
        codes.put(" " + EXIT_REPORT_UNWRITTEN, "a report could not be written");
        return codes;
    }
}
