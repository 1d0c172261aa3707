package dev.parley.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs other programs (gcloud, bin/image.sh, the validator) with the command's own environment: the program is
 * looked up on that environment's PATH (not the JVM's), runs in the working directory with exactly that
 * environment, and is stopped when it outlives its timeout.
 */
public final class CommandRunner {
    /**
     * How a program ended.
     *
     * @param exitCode its exit status; -1 if it timed out
     */
    public record Result(int exitCode, String stdout, String stderr, boolean timedOut) {
        public boolean ok() {
            return exitCode == 0 && !timedOut;
        }
    }

    /** A program that is not on PATH (or not executable at the path given). */
    public static final class MissingProgramException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public MissingProgramException(String message) {
            super(message);
        }
    }

    private final Map<String, String> env;
    private final Path workDir;

    public CommandRunner(Map<String, String> env, Path workDir) {
        this.env = Map.copyOf(env);
        this.workDir = workDir;
    }

    /** The executable called {@code name} on the environment's PATH, if any. */
    public Optional<Path> find(String name) {
        String path = env.getOrDefault("PATH", "");
        for (String dir : path.split(":")) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir).resolve(name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate.toAbsolutePath());
            }
        }
        return Optional.empty();
    }

    /** Runs {@code argv}, capturing both streams. */
    public Result run(List<String> argv, Duration timeout) {
        return run(argv, timeout, null, null);
    }

    /**
     * Runs {@code argv}, capturing both streams and copying each line of the program's standard error to
     * {@code stderrEcho} and of its standard output to {@code stdoutEcho} as it arrives (either may be null), so that
     * the operator sees the progress of long programs.
     */
    public Result run(List<String> argv, Duration timeout, PrintStream stderrEcho, PrintStream stdoutEcho) {
        List<String> command = new ArrayList<>(argv);
        command.set(0, resolve(argv.getFirst()).toString());
        ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().clear();
        builder.environment().putAll(env);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new MissingProgramException(argv.getFirst() + " could not be started: " + e.getMessage());
        }
        StringBuilder stdout = new StringBuilder();
        StringBuilder stderr = new StringBuilder();
        Thread out = Thread.ofVirtual().start(() -> copy(process.getInputStream(), stdout, stdoutEcho));
        Thread err = Thread.ofVirtual().start(() -> copy(process.getErrorStream(), stderr, stderrEcho));
        try {
            boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
            out.join(Duration.ofSeconds(10));
            err.join(Duration.ofSeconds(10));
            synchronized (stdout) {
                synchronized (stderr) {
                    return new Result(finished ? process.exitValue() : -1, stdout.toString(), stderr.toString(), !finished);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + argv.getFirst(), e);
        }
    }

    private Path resolve(String program) {
        if (program.contains("/")) {
            Path path = workDir.resolve(program);
            if (!Files.isExecutable(path)) {
                throw new MissingProgramException(program + " is not an executable file");
            }
            return path;
        }
        return find(program).orElseThrow(() -> new MissingProgramException(program + " is not on PATH"));
    }

    private static void copy(InputStream stream, StringBuilder into, PrintStream echo) {
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                synchronized (into) {
                    into.append(line).append('\n');
                }
                if (echo != null) {
                    echo.println(line);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
