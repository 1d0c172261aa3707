package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.cli.CommandRunner;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The gcloud commands {@code parley deploy} runs, built in one place so that a dry run prints exactly what a real
 * run executes, and the runner that executes them with the gcloud found on the deploy's PATH.
 */
final class Gcloud {
    static final Duration TIMEOUT = Duration.ofMinutes(5);
    static final Duration DEPLOY_TIMEOUT = Duration.ofMinutes(20);

    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./:=@%+,-]+");

    private final CommandRunner runner;
    private final Path executable;
    private final Consumer<String> onCommand;

    /** @param onCommand told each command (as a shell line) before it runs */
    Gcloud(CommandRunner runner, Path executable, Consumer<String> onCommand) {
        this.runner = runner;
        this.executable = executable;
        this.onCommand = onCommand;
    }

    static List<String> activeAccount() {
        return List.of("auth", "list", "--filter=status:ACTIVE", "--format=value(account)");
    }

    static List<String> projectNumber(String project) {
        return List.of("projects", "describe", project, "--format=value(projectNumber)");
    }

    static List<String> enabledApis(String project) {
        return List.of("services", "list", "--enabled", "--project", project, "--format=value(config.name)");
    }

    static List<String> repository(String repository, String region, String project) {
        return List.of("artifacts", "repositories", "describe", repository, "--location", region, "--project", project,
                "--format=value(name)");
    }

    static List<String> secret(String name, String project) {
        return List.of("secrets", "describe", name, "--project", project, "--format=value(name)");
    }

    static List<String> describeService(String service, String region, String project) {
        return List.of("run", "services", "describe", service, "--project", project, "--region", region, "--format=json");
    }

    static List<String> describeRevision(String revision, String region, String project) {
        return List.of("run", "revisions", "describe", revision, "--project", project, "--region", region,
                "--format=json");
    }

    /** All traffic to {@code revision}, and its candidate tag removed (tags first, in the same change). */
    static List<String> moveTraffic(String service, String region, String project, String revision, String tag) {
        return List.of("run", "services", "update-traffic", service, "--project", project, "--region", region,
                "--to-revisions", revision + "=100", "--remove-tags", tag, "--quiet");
    }

    CommandRunner.Result run(List<String> args) {
        return run(args, TIMEOUT);
    }

    CommandRunner.Result run(List<String> args, Duration timeout) {
        onCommand.accept(line(args));
        List<String> argv = new ArrayList<>();
        argv.add(executable.toString());
        argv.addAll(args);
        return runner.run(argv, timeout);
    }

    /** What a gcloud command printed with {@code --format=json}; anything else fails the deploy. */
    static JsonNode parse(String text, String what) {
        try {
            return Json.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new DeployFailure(DeployExit.DEPLOY_FAILED, what + " printed something that is not JSON: "
                    + e.getMessage(), List.of());
        }
    }

    /** The command as an operator would type it. */
    static String line(List<String> args) {
        return "gcloud " + shell(args);
    }

    static String shell(List<String> words) {
        return words.stream().map(word -> PLAIN.matcher(word).matches() ? word : "'" + word.replace("'", "'\\''") + "'")
                .collect(Collectors.joining(" "));
    }

    /**
     * What gcloud said went wrong: the text of its last {@code ERROR: (command.path) message} line (gcloud writes every
     * failure that way), else its last line on stderr, else the exit status.
     */
    static String error(CommandRunner.Result result) {
        if (result.timedOut()) {
            return "gcloud did not finish in time";
        }
        String found = null;
        String last = null;
        for (String line : result.stderr().split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            last = line.strip();
            if (line.startsWith("ERROR: ")) {
                String text = line.substring("ERROR: ".length());
                int close = text.startsWith("(") ? text.indexOf(") ") : -1;
                found = close > 0 ? text.substring(close + 2) : text;
            }
        }
        if (found != null) {
            return found.strip();
        }
        return last != null ? last : "gcloud exited with status " + result.exitCode();
    }
}
