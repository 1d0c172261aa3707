package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** No token, password or secret reaches the log, at any level, on any path of the auth routes. */
class AuthLoggingTest {
    private static final String PASSWORD = "unmistakable-password-8472";

    @TempDir
    Path dataDir;

    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
    private Logger root;
    private Level previousLevel;

    @BeforeEach
    void capture() {
        root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        previousLevel = root.getLevel();
        root.setLevel(Level.DEBUG);
        appender.start();
        root.addAppender(appender);
    }

    @AfterEach
    void release() {
        root.detachAppender(appender);
        root.setLevel(previousLevel);
    }

    @Test
    void tokensPasswordsAndTheSecretNeverAppearInTheLog() throws Exception {
        List<String> secrets = new ArrayList<>();
        Map<String, String> env = new HashMap<>();
        env.put("PARLEY_JWT_SECRET", "");
        env.put("PARLEY_DATA_DIR", dataDir.toString());
        env.put("PARLEY_DEV_LOGIN", "true");
        env.put("PARLEY_LOGIN_MAX_ATTEMPTS", "2");
        try (TestApp app = TestApp.start(env)) {
            secrets.add(Files.readString(dataDir.resolve(JwtSecret.FILE_NAME), StandardCharsets.UTF_8).strip());
            String email = TestUsers.uniqueEmail();
            JsonNode pair = TestUsers.attemptRegister(app, email, PASSWORD).json();
            collect(secrets, pair);
            collect(secrets, TestUsers.attemptLogin(app, email, PASSWORD).json());
            TestUsers.attemptLogin(app, email, "wrong-" + PASSWORD);
            TestUsers.attemptLogin(app, email, "wrong-" + PASSWORD);
            TestUsers.attemptLogin(app, email, "wrong-" + PASSWORD);
            JsonNode rotated = TestUsers.attemptRefresh(app, pair.path("refresh_token").asText()).json();
            collect(secrets, rotated);
            TestUsers.attemptRefresh(app, pair.path("refresh_token").asText());
            AuthFlows.me(app, pair.path("access_token").asText());
            AuthFlows.me(app, pair.path("access_token").asText() + "x");
            JsonNode dev = app.post("/auth/dev/login", "{}", null).json();
            collect(secrets, dev);
            AuthFlows.logout(app, dev.path("access_token").asText());
        }
        secrets.add(PASSWORD);

        assertThat(appender.list).isNotEmpty();
        for (ILoggingEvent event : appender.list) {
            String line = event.getFormattedMessage()
                    + (event.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(event.getThrowableProxy()));
            for (String secret : secrets) {
                assertThat(line).doesNotContain(secret);
                // Neither the signature part of a token alone.
                if (secret.contains(".")) {
                    assertThat(line).doesNotContain(secret.substring(secret.lastIndexOf('.') + 1));
                }
            }
        }
    }

    private static void collect(List<String> secrets, JsonNode pair) {
        assertThat(pair.path("access_token").asText()).isNotBlank();
        secrets.add(pair.path("access_token").asText());
        secrets.add(pair.path("refresh_token").asText());
    }
}
