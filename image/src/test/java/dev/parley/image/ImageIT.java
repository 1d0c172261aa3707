package dev.parley.image;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.parley.client.ApiResponse;
import dev.parley.client.Credentials;
import dev.parley.client.ParleyHttp;
import dev.parley.client.ParleySocket;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The built image, unpacked layer by layer with no container tooling and run from its own filesystem with chroot:
 * its configuration, its files, and the server it starts. Run with {@code mvn -pl image -Pimage-test verify} after
 * {@code bin/image.sh}; needs root.
 */
class ImageIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String AOT_CACHE = "/app/parley.aot";

    private static Path work;
    private static OciImage image;
    private static ContainerRoot root;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @BeforeAll
    static void unpackImage() throws Exception {
        Path tarball = Path.of(System.getProperty("parley.image.tar", "target/parley-image.tar")).toAbsolutePath();
        assertThat(tarball).as("the image tarball; build it first with bin/image.sh").isRegularFile();
        assertThat(OciImage.output("id", "-u").trim()).as("ImageIT runs chroot and mount, so it needs root").isEqualTo("0");
        work = Path.of("target", "image-it").toAbsolutePath();
        deleteTree(work);
        Files.createDirectories(work);
        image = OciImage.open(tarball, work);
        image.unpack(work.resolve("rootfs"));
        root = ContainerRoot.prepare(work.resolve("rootfs"));
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (root != null) {
            root.close();
            if (root.unmounted()) {
                deleteTree(work.resolve("rootfs"));
            }
        }
    }

    @Test
    void imageIsALinuxAmd64ImageRunningTheJlinkedJavaAsANonRootUserOnPort8080() {
        assertThat(image.architecture()).isEqualTo("amd64");
        assertThat(image.user()).isEqualTo("65532:65532");
        assertThat(image.exposedPorts()).containsExactly("8080/tcp");
        assertThat(image.environment()).containsEntry("PORT", "8080").containsEntry("PARLEY_LOG_FORMAT", "json")
                .containsEntry("PARLEY_DATA_DIR", "/data");
        assertThat(image.runConfig().path("WorkingDir").asText()).isEqualTo("/data");
        List<String> entrypoint = image.entrypoint();
        assertThat(entrypoint.getFirst()).isEqualTo("/opt/java/bin/java");
        assertThat(entrypoint).contains("-XX:MaxRAMPercentage=65", "-XX:+UseSerialGC", "-XX:NewSize=24m",
                        "-XX:TrimNativeHeapInterval=5000")
                .endsWith("-jar", "/app/parley-server.jar", "serve");
        assertThat(image.layerCount()).as("runtime, libraries, Jib's argument files, application").isEqualTo(4);
    }

    @Test
    void filesystemHoldsOnlyTheRuntimeTheCLibraryTheAppAndAWritableDataDirectory() throws Exception {
        Path rootfs = root.rootfs();
        try (Stream<Path> top = Files.list(rootfs)) {
            Set<String> names = top.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
            assertThat(names).as("top-level entries (proc and dev are the test's own)")
                    .containsExactlyInAnyOrder("app", "data", "etc", "lib", "lib64", "opt", "tmp", "proc", "dev");
        }
        assertThat(rootfs.resolve("opt/java/bin/java")).isExecutable();
        assertThat(rootfs.resolve("lib64/ld-linux-x86-64.so.2")).isRegularFile();
        assertThat(rootfs.resolve("lib/x86_64-linux-gnu/libc.so.6")).isRegularFile();
        assertThat(rootfs.resolve("app/parley-server.jar")).isRegularFile();
        assertThat(Files.readString(rootfs.resolve("etc/passwd"))).contains("parley:x:65532:65532:");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(rootfs.resolve("tmp")))).isEqualTo("rwxrwxrwx");
        assertThat(OciImage.output("stat", "-c", "%a %u:%g", rootfs.resolve("tmp").toString()).trim()).isEqualTo("1777 0:0");
        assertThat(OciImage.output("stat", "-c", "%a %u:%g", rootfs.resolve("data").toString()).trim()).isEqualTo("700 65532:65532");
        String modules = Files.readString(rootfs.resolve("opt/java/release"));
        assertThat(modules).contains("java.sql").doesNotContain("java.desktop");
        if (image.entrypoint().contains("-XX:AOTCache=" + AOT_CACHE)) {
            assertThat(rootfs.resolve(AOT_CACHE.substring(1))).isRegularFile();
        }
    }

    @Test
    void dockerfileDeclaresTheSameEntrypointUserPortAndEnvironmentAsTheImage() throws Exception {
        Path dockerfile = Path.of(System.getProperty("parley.root", "..")).resolve("Dockerfile");
        Map<String, String> instructions = finalStage(Files.readAllLines(dockerfile));
        List<String> entrypoint = new ArrayList<>();
        JSON.readTree(instructions.get("ENTRYPOINT")).forEach(arg -> entrypoint.add(arg.asText()));
        if (!image.entrypoint().contains("-XX:AOTCache=" + AOT_CACHE)) {
            // An image built with --no-aot; the Dockerfile always trains a cache.
            entrypoint.remove("-XX:AOTCache=" + AOT_CACHE);
        }
        assertThat(entrypoint).as("Dockerfile ENTRYPOINT").isEqualTo(image.entrypoint());
        assertThat(instructions.get("USER")).isEqualTo(image.user());
        assertThat(instructions.get("EXPOSE") + "/tcp").isEqualTo(image.exposedPorts().getFirst());
        assertThat(instructions.get("WORKDIR")).isEqualTo(image.runConfig().path("WorkingDir").asText());
        Map<String, String> env = new LinkedHashMap<>();
        for (String pair : instructions.get("ENV").split("\\s+")) {
            env.put(pair.substring(0, pair.indexOf('=')), pair.substring(pair.indexOf('=') + 1));
        }
        assertThat(env).isEqualTo(image.environment());
    }

    @Test
    void serverStartsFromTheImageAsItsUserUsesTheAotCacheAndStopsWithinTenSecondsOfSigterm() throws Exception {
        Path log = work.resolve("embedded.log");
        Map<String, String> env = new LinkedHashMap<>(image.environment());
        int port = freePort();
        env.put("PORT", Integer.toString(port));
        // Logging flags only; they do not change what the cache is checked against.
        env.put("JDK_JAVA_OPTIONS", "-Xlog:aot=info:file=/tmp/aot.log");
        Process server = root.start(image.user(), image.entrypoint(), env, log);
        try {
            URI base = URI.create("http://127.0.0.1:" + port);
            awaitReady(server, base, log);

            HttpResponse<String> metrics = get(base.resolve("/metrics"));
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("parley_db_pool_max");
            JsonNode health = JSON.readTree(get(base.resolve("/health")).body());
            assertThat(health.path("status").asText()).isNotEmpty();
            goldenPath(base);

            if (image.entrypoint().contains("-XX:AOTCache=" + AOT_CACHE)) {
                String aotLog = Files.readString(root.rootfs().resolve("tmp/aot.log"));
                assertThat(aotLog).contains("Opened AOT cache " + AOT_CACHE)
                        .contains("Using AOT-linked classes: true")
                        .doesNotContain("[warning]").doesNotContain("[error]");
            }
            assertThat(OciImage.output("stat", "-c", "%u", root.rootfs().resolve("data/parley.db").toString()).trim())
                    .as("the embedded database belongs to the image's user").isEqualTo("65532");
            try (Stream<Path> tmp = Files.list(root.rootfs().resolve("tmp"))) {
                assertThat(tmp.map(p -> p.getFileName().toString()))
                        .as("SQLite's native library is loaded from /app/native, not extracted to /tmp")
                        .noneMatch(name -> name.contains("sqlite"));
            }

            long signalled = System.nanoTime();
            server.destroy();
            assertThat(server.waitFor(10, TimeUnit.SECONDS)).as("exited within 10 s of SIGTERM; log:%n%s", read(log)).isTrue();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled)).isLessThan(10_000);
            List<String> lines = Files.readAllLines(log).stream().filter(line -> !line.startsWith("NOTE: Picked up")).toList();
            assertThat(lines).as("JSON log lines").isNotEmpty().allSatisfy(line ->
                    assertThat(JSON.readTree(line).path("severity").asText()).isNotEmpty());
            assertThat(read(log)).contains("Draining").contains("Stopped");
        } finally {
            server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void serverRunsAgainstPostgresqlFromTheImage() throws Exception {
        String databaseUrl = freshPostgresSchema();
        Path log = work.resolve("postgresql.log");
        Map<String, String> env = new LinkedHashMap<>(image.environment());
        int port = freePort();
        env.put("PORT", Integer.toString(port));
        env.put("PARLEY_DATABASE_URL", databaseUrl);
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        env.put("PARLEY_JWT_SECRET", HexFormat.of().formatHex(secret));
        Process server = root.start(image.user(), image.entrypoint(), env, log);
        try {
            URI base = URI.create("http://127.0.0.1:" + port);
            awaitReady(server, base, log);
            assertThat(read(log)).contains("Database ready: PostgreSQL");
            goldenPath(base);
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
            server.destroyForcibly();
        }
    }

    /**
     * One golden-path turn against the server in the image: register, read the account back, load the sample usage
     * data, ask over the socket, and see the run through to a completed, stored answer.
     */
    private void goldenPath(URI base) throws Exception {
        ParleyHttp http = new ParleyHttp(base, Duration.ofSeconds(20));
        ApiResponse registered = http.register("image-" + UUID.randomUUID() + "@example.com", "correct horse battery", null);
        assertThat(registered.status()).as(registered.body()).isEqualTo(201);
        String token = registered.json().path("access_token").asText();
        assertThat(http.me(token).status()).isEqualTo(200);
        assertThat(http.loadSampleUsage(token).status()).isEqualTo(201);
        try (ParleySocket socket = ParleySocket.connect(http.httpClient(), base, "/ws",
                new Credentials.BearerHeader(token), null, Duration.ofSeconds(10))) {
            assertThat(socket.awaitType("connection_established", Duration.ofSeconds(10)).type())
                    .isEqualTo("connection_established");
            socket.send("start_agent", new ObjectMapper().createObjectNode().put("user_request", "Analyze my AI costs"),
                    "image-turn");
            ParleySocket.Received completed = socket.awaitType("agent_completed", Duration.ofSeconds(60));
            assertThat(completed.event().data().path("status").asText()).isEqualTo("completed");
            String threadId = completed.event().threadId();
            ApiResponse messages = http.messages(token, threadId);
            assertThat(messages.json().path("messages")).hasSize(2);
            assertThat(messages.json().path("messages").get(1).path("content").asText())
                    .isEqualTo(completed.event().data().path("final_response").asText())
                    .contains("## Where your money goes");
        }
    }

    private void awaitReady(Process server, URI base, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        int status = -1;
        while (System.nanoTime() < deadline && server.isAlive()) {
            status = statusOf(base.resolve("/health/ready"));
            if (status == 200) {
                return;
            }
            server.waitFor(50, TimeUnit.MILLISECONDS);
        }
        throw new AssertionError("the server in the image never became ready (last status " + status + ", alive "
                + server.isAlive() + "); log:\n" + read(log));
    }

    private int statusOf(URI uri) {
        try {
            return get(uri).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The last stage's instructions (continuation lines joined); a later instruction of a kind wins. */
    private static Map<String, String> finalStage(List<String> lines) {
        Map<String, String> instructions = new LinkedHashMap<>();
        StringBuilder current = new StringBuilder();
        for (String raw : lines) {
            String line = raw.strip();
            if (line.startsWith("#") || (line.isEmpty() && current.isEmpty())) {
                continue;
            }
            if (line.endsWith("\\")) {
                current.append(line, 0, line.length() - 1).append(' ');
                continue;
            }
            current.append(line);
            String instruction = current.toString().strip();
            current.setLength(0);
            int space = instruction.indexOf(' ');
            String keyword = instruction.substring(0, space).toUpperCase(Locale.ROOT);
            if (keyword.equals("FROM")) {
                instructions.clear();
            }
            instructions.put(keyword, instruction.substring(space + 1).strip());
        }
        return instructions;
    }

    private static String freshPostgresSchema() throws Exception {
        String base = System.getenv("PARLEY_TEST_DATABASE_URL");
        if (base == null || base.isBlank()) {
            if ("true".equalsIgnoreCase(System.getenv("PARLEY_TEST_REQUIRE_SERVICES"))) {
                throw new IllegalStateException("PARLEY_TEST_REQUIRE_SERVICES=true but PARLEY_TEST_DATABASE_URL is not set");
            }
            Assumptions.abort("PARLEY_TEST_DATABASE_URL is not set: the PostgreSQL case is skipped");
        }
        String schema = "image_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection connection = DriverManager.getConnection(base);
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE SCHEMA " + schema);
        }
        return base + (base.contains("?") ? "&" : "?") + "currentSchema=" + schema;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static String read(Path log) throws IOException {
        return Files.exists(log) ? Files.readString(log) : "(no log)";
    }

    /** Deletes a tree left by an earlier run, after unmounting anything still mounted inside it. */
    private static void deleteTree(Path dir) throws IOException, InterruptedException {
        if (!Files.exists(dir)) {
            return;
        }
        String prefix = dir.toRealPath() + "/";
        for (String mount : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String target = mount.split(" ")[1];
            if (target.startsWith(prefix)) {
                OciImage.run("umount", target);
            }
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
