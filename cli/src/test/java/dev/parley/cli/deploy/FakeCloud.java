package dev.parley.cli.deploy;

import dev.parley.cli.Cli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A fake Google Cloud for deploy tests: a directory with executables that {@code parley deploy} finds first on PATH
 * (gcloud, docker-credential-gcloud) or runs by override (the validator, the image builder), each recording its
 * arguments, and the state they answer from (see fake-gcloud.sh). Runs the real deploy command in process with this
 * environment and records what it printed.
 */
final class FakeCloud {
    static final String PROJECT = "parley-prod";
    static final String NUMBER = "123456789012";
    static final String ACCOUNT = "deployer@example.com";
    static final String DIGEST = "sha256:" + "ab".repeat(32);

    final Path root;
    final Path bin;
    final Path state;
    final Path work;
    /** The only other programs on PATH: what the fakes and the deploy command use, and no real gcloud. */
    private final Path tools;
    private boolean gcloudOnPath = true;

    /** What one run of the command left behind. */
    record Outcome(int exitCode, String stdout, String stderr) {
    }

    FakeCloud(Path root) throws IOException {
        this.root = root;
        this.bin = Files.createDirectories(root.resolve("bin"));
        this.state = Files.createDirectories(root.resolve("state"));
        this.work = Files.createDirectories(root.resolve("work"));
        this.tools = Files.createDirectories(root.resolve("tools"));
        for (String tool : List.of("bash", "cat", "tail", "head", "cut", "awk", "sed", "grep", "mv", "rm", "mkdir",
                "touch", "sort", "env", "git")) {
            for (String dir : List.of("/usr/bin", "/bin")) {
                Path real = Path.of(dir, tool);
                if (Files.isExecutable(real)) {
                    Files.createSymbolicLink(tools.resolve(tool), real);
                    break;
                }
            }
        }
        try (InputStream script = FakeCloud.class.getResourceAsStream("/fake-gcloud.sh")) {
            executable(bin.resolve("gcloud"), new String(script.readAllBytes(), StandardCharsets.UTF_8));
        }
        executable(bin.resolve("docker-credential-gcloud"), "#!/bin/bash\necho '{}'\n");
        executable(bin.resolve("fake-validate"), """
                #!/bin/bash
                # Records its arguments, writes the two reports it is asked for, exits with $FAKE_GCLOUD_STATE/validate-exit.
                ( IFS=$'\\x1f'; printf '%s\\n' "$*" ) >>"$FAKE_GCLOUD_STATE/validate-calls"
                while [ $# -gt 0 ]; do
                  case $1 in
                    --url) url=$2; shift ;;
                    --report) report=$2; shift ;;
                    --json) json=$2; shift ;;
                  esac
                  shift
                done
                code=$(cat "$FAKE_GCLOUD_STATE/validate-exit" 2>/dev/null || echo 0)
                echo "validating $url"
                printf 'validation of %s: exit %s\\n' "$url" "$code" >"$report"
                printf '{"url":"%s","passed":%s}\\n' "$url" "$([ "$code" = 0 ] && echo true || echo false)" >"$json"
                exit "$code"
                """);
        executable(bin.resolve("fake-image"), """
                #!/bin/bash
                # Records its arguments; "pushes" the image given with --push and prints it with a digest last.
                ( IFS=$'\\x1f'; printf '%s\\n' "$*" ) >>"$FAKE_GCLOUD_STATE/image-calls"
                [ "$1" = --push ] || { echo "fake-image: expected --push" >&2; exit 2; }
                echo "image: building" >&2
                if [ -f "$FAKE_GCLOUD_STATE/image-error" ]; then echo "image: Jib failed" >&2; exit 1; fi
                ref=$2
                echo "${ref%:*}@DIGEST"
                """.replace("DIGEST", DIGEST));
    }

    // --- the cloud's state ----------------------------------------------------------------------------------------

    /** Logged in, the project reachable, the APIs on and the default secrets present. */
    FakeCloud ready() throws IOException {
        write("account", ACCOUNT + "\n");
        write("projects/" + PROJECT, NUMBER + "\n");
        write("apis", "run.googleapis.com\nsecretmanager.googleapis.com\nartifactregistry.googleapis.com\n"
                + "logging.googleapis.com\n");
        for (String secret : List.of("parley-jwt-secret", "parley-database-url", "parley-redis-url")) {
            write("secrets/" + secret, "");
        }
        write("repositories/parley", "");
        return this;
    }

    /** The service exists with {@code revision} serving all traffic (as generation 1). */
    FakeCloud existingService(String revision) throws IOException {
        write("service/traffic", revision + " 100 -\n");
        write("service/revisions", revision + " True\n");
        write("service/generation", "1\n");
        return this;
    }

    FakeCloud write(String path, String content) throws IOException {
        Path file = state.resolve(path);
        Files.createDirectories(file.getParent());
        Files.writeString(file, content);
        return this;
    }

    FakeCloud delete(String path) throws IOException {
        Files.deleteIfExists(state.resolve(path));
        return this;
    }

    FakeCloud withoutGcloud() {
        gcloudOnPath = false;
        return this;
    }

    String read(String path) throws IOException {
        return Files.readString(state.resolve(path));
    }

    // --- running the command --------------------------------------------------------------------------------------

    Map<String, String> env() {
        Map<String, String> env = new LinkedHashMap<>();
        Path path = bin;
        if (!gcloudOnPath) {
            path = root.resolve("bin-without-gcloud");
        }
        env.put("PATH", path + ":" + tools);
        env.put("HOME", root.toString());
        env.put("FAKE_GCLOUD_STATE", state.toString());
        env.put("PARLEY_VALIDATE_COMMAND", bin.resolve("fake-validate").toString());
        env.put("PARLEY_IMAGE_COMMAND", bin.resolve("fake-image").toString());
        return env;
    }

    Outcome deploy(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Cli cli = new Cli(env(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), work, root, Clock.systemUTC());
        int code = DeployCommand.run(List.of(args), cli);
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Every gcloud call so far, each as its argument list. */
    List<List<String>> gcloudCalls() throws IOException {
        return calls("calls");
    }

    List<List<String>> validateCalls() throws IOException {
        return calls("validate-calls");
    }

    List<List<String>> imageCalls() throws IOException {
        return calls("image-calls");
    }

    /** The gcloud calls as "group subcommand" words (e.g. "run deploy"), to assert their order. */
    List<String> gcloudCommands() throws IOException {
        return gcloudCalls().stream().map(call -> call.get(0) + " " + call.get(1)
                + (call.get(0).equals("run") && !call.get(1).equals("deploy") || call.get(0).equals("artifacts")
                ? " " + call.get(2) : "")).toList();
    }

    private List<List<String>> calls(String file) throws IOException {
        Path log = state.resolve(file);
        if (!Files.exists(log)) {
            return List.of();
        }
        return Files.readAllLines(log).stream().map(line -> Arrays.asList(line.split("\u001f", -1))).toList();
    }

    private static void executable(Path file, String content) {
        try {
            Files.writeString(file, content);
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
