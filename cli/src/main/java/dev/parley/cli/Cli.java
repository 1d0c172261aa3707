package dev.parley.cli;

import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

/**
 * What a command may use of the process it runs in: the environment (including the PATH it runs other programs
 * from), standard output for its result, standard error for progress, the working directory, the Parley
 * checkout it belongs to, and the clock. {@link Main} builds it from the real process; tests build their own.
 *
 * @param home the Parley checkout (the directory holding bin/parley), from which commands find bin/image.sh and
 *             bin/parley
 */
public record Cli(Map<String, String> env, PrintStream out, PrintStream err, Path workDir, Path home, Clock clock) {

    public Cli {
        env = Map.copyOf(env);
    }

    public static Cli fromProcess() {
        Map<String, String> env = System.getenv();
        Path workDir = Path.of("").toAbsolutePath();
        return new Cli(env, System.out, System.err, workDir, findHome(env, workDir), Clock.systemUTC());
    }

    /**
     * The checkout: {@code -Dparley.home} (bin/parley sets it), else {@code PARLEY_HOME}, else two levels above the
     * jar this class was loaded from (cli/target/parley-cli.jar), else the working directory.
     */
    private static Path findHome(Map<String, String> env, Path workDir) {
        String property = System.getProperty("parley.home");
        if (property != null && !property.isBlank()) {
            return Path.of(property).toAbsolutePath();
        }
        String variable = env.get("PARLEY_HOME");
        if (variable != null && !variable.isBlank()) {
            return Path.of(variable).toAbsolutePath();
        }
        try {
            Path location = Path.of(Cli.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path candidate = location.getParent() == null ? null : location.getParent().getParent();
            if (candidate != null && candidate.getParent() != null
                    && Files.isRegularFile(candidate.getParent().resolve("bin/parley"))) {
                return candidate.getParent();
            }
        } catch (URISyntaxException | SecurityException | NullPointerException e) {
            // No code source to go by: fall back to the working directory.
        }
        return workDir;
    }
}
