package dev.parley.server.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/configuration.md and the loader must name the same variables, and the same per-provider patterns. */
class ConfigDocumentationTest {
    /** A table row naming a variable, or a pattern of variables such as {@code PARLEY_OIDC_<NAME>_ISSUER}. */
    private static final Pattern TABLE_ROW =
            Pattern.compile("^\\|\\s*`([A-Z][A-Z0-9_]*(?:<NAME>[A-Z0-9_]*)?)`\\s*\\|", Pattern.MULTILINE);

    @Test
    void documentListsExactlyTheVariablesTheLoaderReads() throws IOException {
        Path doc = Path.of("..", "docs", "configuration.md");
        assertThat(doc).exists();
        Set<String> documented = new LinkedHashSet<>();
        Set<String> documentedPatterns = new LinkedHashSet<>();
        Matcher matcher = TABLE_ROW.matcher(Files.readString(doc));
        while (matcher.find()) {
            String name = matcher.group(1);
            (name.contains("<NAME>") ? documentedPatterns : documented).add(name);
        }
        assertThat(documented).containsExactlyInAnyOrderElementsOf(Config.variables());
        assertThat(documentedPatterns).containsExactlyInAnyOrderElementsOf(Config.variablePatterns());
    }
}
