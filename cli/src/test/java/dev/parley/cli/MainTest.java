package dev.parley.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code parley COMMAND}: dispatch by name, help, and unknown commands. */
class MainTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        Cli cli = new Cli(Map.of("PATH", dir.toString()), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), dir, dir, Clock.systemUTC());
        return Main.run(List.of(args), cli);
    }

    @Test
    void helpListsEveryCommandWithItsSummary() {
        assertThat(run("help")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("deploy", "Google Cloud Run");
    }

    @Test
    void unknownCommandExits2AndListsTheKnownOnes() {
        assertThat(run("launch")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("parley: unknown command 'launch'", "deploy");
    }

    @Test
    void noCommandExits2WithUsage() {
        assertThat(run()).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("Usage: parley COMMAND");
    }

    @Test
    void commandGetsTheArgumentsAfterItsName() {
        assertThat(run("deploy", "--help")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("Usage: parley deploy --project PROJECT", "Exit codes:");
    }

    @Test
    void helpOptionAndHelpCommandPrintOnStdoutAndExitZero() {
        assertThat(run("--help")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("Usage: parley COMMAND", "validate", "deploy");
        out.reset();

        assertThat(run("help", "deploy")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("Usage: parley deploy --project PROJECT",
                "--ready-timeout=DURATION", "PARLEY_VALIDATE_COMMAND", "PARLEY_IMAGE_COMMAND", "Exit codes:",
                "  13   moving traffic to the validated revision failed");
        out.reset();

        assertThat(run("help", "validate")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("Usage: parley validate --url URL", "Exit codes:");
        assertThat(err.toString(StandardCharsets.UTF_8)).isEmpty();
    }

    @Test
    void usageErrorNamesTheOptionAndPrintsTheShortUsageOnStderrWithExit2() {
        assertThat(run("deploy", "--project", "parley-prod", "--max-instances")).isEqualTo(2);

        assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
        assertThat(err.toString(StandardCharsets.UTF_8)).isEqualTo("""
                parley deploy: --max-instances needs a value
                Usage: parley deploy --project PROJECT [OPTIONS]
                Run 'parley deploy --help' for the options.
                """);
    }

    @Test
    void validateTakesTheLastValueOfAnOptionGivenTwiceAndDeployRefusesIt() {
        assertThat(run("validate", "--url", "http://127.0.0.1:1", "--url", "http://127.0.0.1:2", "--timeout", "1",
                "--users", "0")).isEqualTo(3);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("parley validate: http://127.0.0.1:2 (");
        err.reset();

        assertThat(run("deploy", "--project", "parley-prod", "--project", "parley-test")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("parley deploy: --project is given more than once");
    }

    @Test
    void completionScriptCompletesEveryCommandAndTheOptionsOfValidateAndDeploy() {
        assertThat(run("completion")).isZero();

        assertThat(out.toString(StandardCharsets.UTF_8))
                .contains("complete -F _complete_parley", "serve aot image validate deploy help completion",
                        "'--ready-timeout'", "'--token-file'");
    }

    @Test
    void helpForAnUnknownCommandIsAUsageError() {
        assertThat(run("help", "launch")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("parley: unknown command 'launch'", "deploy");
        assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
    }
}
