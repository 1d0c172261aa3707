package dev.parley.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** docs/operations.md lists every exit code of parley deploy, with the name its JSON summary uses. */
class DeployDocumentationTest {

    @Test
    void operationsGuideListsEveryExitCode() throws Exception {
        String guide = Files.readString(Path.of("..", "docs", "operations.md"));
        for (DeployExit exit : DeployExit.values()) {
            assertThat(guide).as("a row for exit %d", exit.code())
                    .containsPattern("(?m)^\\| " + exit.code() + " \\| `" + exit.name().toLowerCase(Locale.ROOT) + "` \\|");
        }
    }
}
