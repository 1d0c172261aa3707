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
}
