package dev.parley.server.auth;

import static dev.parley.server.auth.AuthFlows.me;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded mode's generated JWT secret, and what survives a restart on the same data directory. */
class JwtSecretTest {
    @TempDir
    Path dataDir;

    private TestApp startEmbedded() {
        Map<String, String> env = new HashMap<>();
        env.put("PARLEY_JWT_SECRET", "");
        env.put("PARLEY_DATA_DIR", dataDir.toString());
        return TestApp.start(env);
    }

    @Test
    void secretIsGeneratedOwnerOnlyAndTokensAndRevocationsSurviveARestart() throws Exception {
        Path file = dataDir.resolve(JwtSecret.FILE_NAME);
        JsonNode kept;
        JsonNode signedOut;
        String secret;
        try (TestApp first = startEmbedded()) {
            assertThat(file).exists();
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
            secret = Files.readString(file, StandardCharsets.UTF_8).strip();
            assertThat(secret).matches("[A-Za-z0-9_-]{43}");
            assertThat(dataDir.toFile().list()).noneMatch(name -> name.endsWith(".tmp"));

            kept = TestUsers.registeredPair(first);
            signedOut = TestUsers.registeredPair(first);
            assertThat(AuthFlows.logout(first, signedOut.path("access_token").asText()).status()).isEqualTo(200);
        }

        try (TestApp second = startEmbedded()) {
            assertThat(Files.readString(file, StandardCharsets.UTF_8).strip()).isEqualTo(secret);
            assertThat(me(second, kept.path("access_token").asText()).status()).isEqualTo(200);

            TestApp.Response revoked = me(second, signedOut.path("access_token").asText());
            assertThat(revoked.status()).isEqualTo(401);
            assertThat(revoked.errorCode()).isEqualTo("token_revoked");
            TestApp.Response revokedRefresh = TestUsers.attemptRefresh(second, signedOut.path("refresh_token").asText());
            assertThat(revokedRefresh.status()).isEqualTo(401);
            assertThat(revokedRefresh.errorCode()).isEqualTo("token_revoked");

            assertThat(TestUsers.attemptRefresh(second, kept.path("refresh_token").asText()).status()).isEqualTo(200);
        }

        try (TestApp third = startEmbedded()) {
            // The refresh token spent before the restart stays spent: presenting it again revokes its family.
            TestApp.Response reuse = TestUsers.attemptRefresh(third, kept.path("refresh_token").asText());
            assertThat(reuse.status()).isEqualTo(401);
            assertThat(reuse.errorCode()).isEqualTo("token_revoked");
            assertThat(me(third, kept.path("access_token").asText()).errorCode()).isEqualTo("token_revoked");
        }
    }

    @Test
    void generatedSecretWorksAsTheConfiguredSecret() throws Exception {
        JsonNode pair;
        try (TestApp embedded = startEmbedded()) {
            pair = TestUsers.registeredPair(embedded);
        }
        String secret = Files.readString(dataDir.resolve(JwtSecret.FILE_NAME), StandardCharsets.UTF_8).strip();
        Map<String, String> env = new HashMap<>();
        env.put("PARLEY_JWT_SECRET", secret);
        env.put("PARLEY_DATA_DIR", dataDir.toString());
        try (TestApp configured = TestApp.start(env)) {
            assertThat(me(configured, pair.path("access_token").asText()).status()).isEqualTo(200);
        }
    }

    @Test
    void configuredSecretLeavesTheDataDirectoryAlone() {
        try (TestApp configured = TestApp.start(Map.of("PARLEY_DATA_DIR", dataDir.toString()))) {
            assertThat(configured.get("/auth/config", null).status()).isEqualTo(200);
        }
        assertThat(dataDir.resolve(JwtSecret.FILE_NAME)).doesNotExist();
    }

    @Test
    void processesStartingTogetherAgreeOnOneSecret() throws Exception {
        Path file = dataDir.resolve("race").resolve(JwtSecret.FILE_NAME);
        int racers = 8;
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<String>> keys = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(racers)) {
            for (int i = 0; i < racers; i++) {
                keys.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        assertThat(go.await(10, TimeUnit.SECONDS)).isTrue();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return new String(JwtSecret.loadOrGenerate(file), StandardCharsets.UTF_8);
                }, pool));
            }
            go.countDown();
            List<String> seen = new ArrayList<>();
            for (CompletableFuture<String> key : keys) {
                seen.add(key.get(30, TimeUnit.SECONDS));
            }
            assertThat(seen).hasSize(racers).containsOnly(Files.readString(file, StandardCharsets.UTF_8).strip());
        }
    }

    @Test
    void tooShortSecretFileIsRefusedWithAClearMessage() throws Exception {
        Files.writeString(dataDir.resolve(JwtSecret.FILE_NAME), "short\n");
        assertThatThrownBy(this::startEmbedded)
                .hasMessageContaining("jwt-secret")
                .hasMessageContaining("fewer than 32 bytes");
    }
}
