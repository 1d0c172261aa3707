package dev.parley.cli.validate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.App;
import dev.parley.server.config.Config;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The validator against the real Parley server with its defaults (embedded database, offline agent): all pass. */
class ValidatorAgainstServerTest {
    @TempDir
    Path dir;

    @Test
    void everyCheckPassesAgainstTheRealServerAndBothReportsAreWritten() throws IOException {
        Config config = Config.from(Map.of("PORT", "0", "PARLEY_HOST", "127.0.0.1",
                "PARLEY_DATA_DIR", dir.resolve("data").toString()));
        try (App app = App.start(config, Clock.systemUTC())) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Path markdown = dir.resolve("report.md");
            Path json = dir.resolve("report.json");
            int exit = ValidateCommand.run(new String[] {"--url", "http://127.0.0.1:" + app.port(), "--register",
                            "--users", "3", "--report", markdown.toString(), "--json", json.toString()},
                    new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));

            String printed = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
            assertThat(exit).as(printed).isZero();
            JsonNode report = Json.parse(Files.readString(json));
            assertThat(report.path("checks")).hasSizeGreaterThanOrEqualTo(18)
                    .allSatisfy(check -> assertThat(check.path("result").asText()).as(check.toString()).isEqualTo("pass"));
            assertThat(Files.readString(markdown)).contains("golden_path").contains("pass");
        }
    }
}
