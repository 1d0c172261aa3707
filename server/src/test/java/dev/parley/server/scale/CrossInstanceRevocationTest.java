package dev.parley.server.scale;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.client.ParleySocket;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A sign-out is in force on every instance at once: the family's sockets on the other instance close with 1008
 * {@code token_revoked} within a second, and its tokens are refused there; other sign-ins of the same user are not
 * touched.
 */
class CrossInstanceRevocationTest {
    private static Cluster cluster;

    @BeforeAll
    static void startCluster() {
        // A long verification cache: only the shared notice can close the socket on b within the second.
        cluster = Cluster.start(Map.of("PARLEY_REVOCATION_CACHE_TTL", "60s"), null);
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void signOutOnOneInstanceClosesTheFamilysSocketsOnTheOtherWithinASecond() {
        TestUsers.User user = TestUsers.register(cluster.a);
        TestUsers.User otherLogin = TestUsers.login(cluster.a, user);
        try (SocketClient onB = connected(cluster.b, user);
             SocketClient otherOnB = connected(cluster.b, otherLogin)) {
            assertThat(cluster.b.get("/auth/me", user.accessToken()).status()).isEqualTo(200);
            long started = System.nanoTime();
            assertThat(cluster.a.post("/auth/logout", "{}", user.accessToken()).status()).isEqualTo(200);
            ParleySocket.Close close = onB.awaitClose(Duration.ofSeconds(1));
            long tookMillis = (System.nanoTime() - started) / 1_000_000;
            assertThat(close.code()).isEqualTo(1008);
            assertThat(close.reason()).isEqualTo("token_revoked");
            assertThat(tookMillis).isLessThan(1000);
            assertThat(cluster.b.get("/auth/me", user.accessToken()).status()).isEqualTo(401);
            assertThat(otherOnB.isClosed()).isFalse();
            assertThat(cluster.b.get("/auth/me", otherLogin.accessToken()).status()).isEqualTo(200);
        }
    }
}
