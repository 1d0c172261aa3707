package dev.parley.cli.validate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line of {@code parley validate}: options, usage errors (exit 2) and help (exit 0). */
class ValidateCommandLineTest {
    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = ValidateCommand.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void defaultsRegisterFiveUsersAndWaitThirtySeconds() throws Exception {
        Options options = ValidateCommand.parse(new String[] {"--url", "https://parley.example.com/"});

        assertThat(options.url()).hasToString("https://parley.example.com");
        assertThat(options.credentials()).isInstanceOf(Options.Credentials.Register.class);
        assertThat(options.users()).isEqualTo(5);
        assertThat(options.timeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(options.report()).isNull();
        assertThat(options.json()).isNull();
    }

    @Test
    void readsEveryOptionInBothSpellings() throws Exception {
        Options options = ValidateCommand.parse(new String[] {"--url=wss://parley.example.com/base", "--email", "a@example.com",
                "--password=--starts-with-dashes", "--users", "12", "--timeout", "2.5", "--report", "r.md",
                "--json=r.json"});

        assertThat(options.url()).hasToString("https://parley.example.com/base");
        assertThat(options.credentials()).isEqualTo(new Options.Credentials.Login("a@example.com", "--starts-with-dashes"));
        assertThat(options.users()).isEqualTo(12);
        assertThat(options.timeout()).isEqualTo(Duration.ofMillis(2500));
        assertThat(options.report()).hasToString("r.md");
        assertThat(options.json()).hasToString("r.json");
        assertThat(ValidateCommand.parse(new String[] {"--url", "http://h:1", "--token", "t"}).credentials())
                .isEqualTo(new Options.Credentials.Token("t"));
    }

    @Test
    void reportsEveryUsageProblemAtOnceAndExitsTwo() {
        Run run = run("--email", "a@example.com", "--token", "t", "--users", "many", "--timeout", "0", "--bogus");

        assertThat(run.code()).isEqualTo(ValidateCommand.EXIT_USAGE);
        assertThat(run.err()).contains("unknown option '--bogus'", "--url is required",
                "choose one of --register, --token, or --email with --password",
                "--email needs a password: PARLEY_VALIDATE_PASSWORD or --password-file",
                "--users must be a whole number", "--timeout must be more than 0");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void secretsComeFromTheEnvironmentAFileOrStdinAndOnTheCommandLineOnlyWithAWarning(@TempDir Path dir)
            throws Exception {
        Map<String, String> env = Map.of("PARLEY_VALIDATE_PASSWORD", "from-env", "PARLEY_VALIDATE_TOKEN", "env-token");
        assertThat(ValidateCommand.parse(new String[] {"--url", "http://h:1", "--email", "a@example.com"}, env,
                InputStream.nullInputStream()).credentials())
                .isEqualTo(new Options.Credentials.Login("a@example.com", "from-env"));
        assertThat(ValidateCommand.parse(new String[] {"--url", "http://h:1"}, env, InputStream.nullInputStream())
                .credentials()).isEqualTo(new Options.Credentials.Token("env-token"));
        assertThat(ValidateCommand.parse(new String[] {"--url", "http://h:1", "--register"}, env,
                InputStream.nullInputStream()).credentials()).isEqualTo(new Options.Credentials.Register());

        Path file = dir.resolve("password");
        Files.writeString(file, "from-file\nignored\n");
        Options fromFile = ValidateCommand.parse(new String[] {"--url", "http://h:1", "--email", "a@example.com",
            "--password-file", file.toString()}, env, InputStream.nullInputStream());
        assertThat(fromFile.credentials()).isEqualTo(new Options.Credentials.Login("a@example.com", "from-file"));
        assertThat(fromFile.warnings()).isEmpty();
        InputStream stdin = new ByteArrayInputStream("stdin-token\n".getBytes(StandardCharsets.UTF_8));
        assertThat(ValidateCommand.parse(new String[] {"--url", "http://h:1", "--token-file", "-"}, Map.of(), stdin)
                .credentials()).isEqualTo(new Options.Credentials.Token("stdin-token"));

        assertThat(ValidateCommand.parse(new String[] {"--url", "http://h:1", "--token", "t"}).warnings())
                .singleElement().asString().contains("visible to every user", "PARLEY_VALIDATE_TOKEN");
        assertThatThrownBy(() -> ValidateCommand.parse(new String[] {"--url", "http://h:1", "--token-file",
            dir.resolve("missing").toString()})).hasMessageContaining("--token-file").hasMessageContaining("cannot be read");
        Files.writeString(file, "\n");
        assertThatThrownBy(() -> ValidateCommand.parse(new String[] {"--url", "http://h:1", "--email", "a@example.com",
            "--password-file", file.toString()})).hasMessageContaining("is empty");
    }

    @Test
    void refusesUrlsThatAreNotAServersBase() {
        assertThatThrownBy(() -> ValidateCommand.parse(new String[] {"--url", "ftp://host"}))
                .hasMessageContaining("must start with http:// or https://");
        assertThatThrownBy(() -> ValidateCommand.parse(new String[] {"--url", "http://host/?x=1"}))
                .hasMessageContaining("without a query");
        assertThatThrownBy(() -> ValidateCommand.parse(new String[] {"--url", "http://host", "--users", "-1"}))
                .hasMessageContaining("--users must be between 0 and 200");
        assertThatThrownBy(() -> ValidateCommand.parse(new String[] {"--url"})).hasMessageContaining("--url needs a value");
    }

    @Test
    void aReportInAMissingFolderIsAUsageError() {
        Run run = run("--url", "http://127.0.0.1:1", "--report", "/no/such/folder/report.md");

        assertThat(run.code()).isEqualTo(ValidateCommand.EXIT_USAGE);
        assertThat(run.err()).contains("--report: the folder /no/such/folder does not exist");
    }

    @Test
    void helpPrintsTheUsageAndExitsZero() {
        Run run = run("--help");

        assertThat(run.code()).isZero();
        assertThat(run.out()).contains("Usage: parley validate --url URL", "Exit codes:");
    }

    @Test
    void jsonWithoutAFilePrintsTheReportAloneOnStdoutAndTheSummaryOnStderr() throws Exception {
        Run run = run("--url", "http://127.0.0.1:1", "--timeout", "2", "--json");

        assertThat(run.code()).isEqualTo(ValidateCommand.EXIT_UNREACHABLE);
        JsonNode report = Json.MAPPER.readTree(run.out());
        assertThat(report.path("checks").get(0).path("id").asText()).isEqualTo("health");
        assertThat(report.path("checks").get(0).path("result").asText()).isEqualTo("fail");
        assertThat(run.err()).contains("] health", "could not be reached; exit code 3");
        assertThat(ValidateCommand.parse(new String[] {"--url", "http://h:1", "--json", "-"}).jsonOnStdout()).isTrue();
        Options toFile = ValidateCommand.parse(new String[] {"--url", "http://h:1", "--json", "r.json"});
        assertThat(toFile.jsonOnStdout()).isFalse();
        assertThat(toFile.json()).hasToString("r.json");
    }

    @Test
    void usageErrorsNameTheOptionAndPrintTheShortUsageOnStderr() {
        for (String[] args : List.of(new String[] {"--url"}, new String[] {"--url", "http://h:1", "--users", "-3"},
            new String[] {"--url", "http://h:1", "surplus"})) {
            Run run = run(args);

            assertThat(run.code()).as(String.join(" ", args)).isEqualTo(ValidateCommand.EXIT_USAGE);
            assertThat(run.out()).isEmpty();
            assertThat(run.err()).as(String.join(" ", args)).containsPattern("parley validate: .*(--url|--users|surplus)")
                    .contains("Usage: parley validate --url URL", "Run 'parley validate --help' for the options.");
        }
    }

    @Test
    void anOptionGivenTwiceTakesItsLastValue() throws Exception {
        Options options = ValidateCommand.parse(new String[] {"--url", "http://h:1", "--users", "3", "--url",
            "http://h:2", "--users", "4"});

        assertThat(options.url()).hasToString("http://h:2");
        assertThat(options.users()).isEqualTo(4);
    }

    @Test
    void helpListsEveryOptionItsEnvironmentAndExitCodes() {
        Run run = run("-h");

        assertThat(run.code()).isZero();
        assertThat(run.err()).isEmpty();
        for (String option : List.of("--url", "--register", "--email", "--password-file", "--token-file", "--password",
                "--token", "--users", "--report", "--json", "--timeout", "PARLEY_VALIDATE_PASSWORD",
                "PARLEY_VALIDATE_TOKEN")) {
            assertThat(run.out()).as(option).contains(option);
        }
        assertThat(run.out()).contains("Exit codes:", "   3   the target could not be reached");
    }

    @Test
    void validationGuideListsEveryOption() throws Exception {
        String guide = Files.readString(Path.of("..", "docs", "validation.md"));
        List<String> options = ValidateCommand.commandLine(new ValidateCommand(Map.of(), InputStream.nullInputStream(),
                System.out, System.err)).getCommandSpec().options().stream().map(option -> option.longestName())
                .toList();

        assertThat(options).contains("--url", "--json", "--help");
        for (String option : options) {
            assertThat(guide).as(option).containsPattern("(?m)^\\| .*`" + option + "[ `]");
        }
    }
}
