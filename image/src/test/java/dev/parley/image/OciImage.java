package dev.parley.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * An OCI image tarball (as Jib writes it: an OCI layout with one manifest, gzip layers), read with no container
 * tooling: its configuration, and its layers unpacked in order into a root filesystem.
 */
final class OciImage {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path layout;
    private final JsonNode manifest;
    private final JsonNode config;

    private OciImage(Path layout, JsonNode manifest, JsonNode config) {
        this.layout = layout;
        this.manifest = manifest;
        this.config = config;
    }

    /** Unpacks the tarball's layout (index, manifests, blobs) into {@code workDir} and reads it. */
    static OciImage open(Path tarball, Path workDir) throws IOException, InterruptedException {
        Path layout = workDir.resolve("layout");
        Files.createDirectories(layout);
        run("tar", "-xf", tarball.toString(), "-C", layout.toString());
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        JsonNode manifests = index.path("manifests");
        if (manifests.size() != 1) {
            throw new IllegalStateException("expected one manifest in " + tarball + ", found " + manifests.size());
        }
        JsonNode manifest = JSON.readTree(blob(layout, manifests.get(0).path("digest").asText()).toFile());
        JsonNode config = JSON.readTree(blob(layout, manifest.path("config").path("digest").asText()).toFile());
        return new OciImage(layout, manifest, config);
    }

    /** The image configuration's {@code config} object (Entrypoint, Env, User, ExposedPorts, WorkingDir, Labels). */
    JsonNode runConfig() {
        return config.path("config");
    }

    String architecture() {
        return config.path("architecture").asText();
    }

    List<String> entrypoint() {
        List<String> entrypoint = new ArrayList<>();
        runConfig().path("Entrypoint").forEach(arg -> entrypoint.add(arg.asText()));
        return entrypoint;
    }

    Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        runConfig().path("Env").forEach(entry -> {
            String text = entry.asText();
            int eq = text.indexOf('=');
            env.put(text.substring(0, eq), text.substring(eq + 1));
        });
        return env;
    }

    String user() {
        return runConfig().path("User").asText();
    }

    List<String> exposedPorts() {
        List<String> ports = new ArrayList<>();
        runConfig().path("ExposedPorts").fieldNames().forEachRemaining(ports::add);
        return ports;
    }

    int layerCount() {
        return manifest.path("layers").size();
    }

    /** Applies every layer in order, as a container runtime does, into {@code rootfs} (which must not exist). */
    void unpack(Path rootfs) throws IOException, InterruptedException {
        Files.createDirectories(rootfs);
        for (JsonNode layer : manifest.path("layers")) {
            Path blob = blob(layout, layer.path("digest").asText());
            String listing = output("tar", "-tzf", blob.toString());
            if (listing.contains(".wh.")) {
                throw new IllegalStateException("layer " + blob.getFileName() + " has whiteout entries, which this reader "
                        + "does not apply; a from-scratch image should have none");
            }
            run("tar", "--warning=no-unknown-keyword", "--numeric-owner", "-xzf", blob.toString(), "-C", rootfs.toString());
        }
    }

    private static Path blob(Path layout, String digest) {
        String[] parts = digest.split(":", 2);
        return layout.resolve("blobs").resolve(parts[0]).resolve(parts[1]);
    }

    static void run(String... command) throws IOException, InterruptedException {
        output(command);
    }

    static String output(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String text = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(2, TimeUnit.MINUTES) || process.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + text);
        }
        return text;
    }
}
