package dev.parley.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import java.net.http.HttpRequest;
import java.util.UUID;

/** Accounts registered over real HTTP, with their tokens. */
public final class TestUsers {
    public static final String PASSWORD = "correct horse battery staple";

    private TestUsers() {
    }

    /** A registered user and the token pair of its registration. */
    public record User(String id, String email, String accessToken, String refreshToken) {
    }

    /** An address no other test uses. */
    public static String uniqueEmail() {
        return "user-" + UUID.randomUUID().toString().substring(0, 12) + "@example.org";
    }

    /** {@code POST /auth/register} as sent, whatever the answer. */
    public static TestApp.Response attemptRegister(TestApp app, String email, String password) {
        return app.post("/auth/register", Json.write(Json.object().put("email", email).put("password", password)), null);
    }

    /** {@code POST /auth/login} as sent, whatever the answer. */
    public static TestApp.Response attemptLogin(TestApp app, String email, String password) {
        return attemptLogin(app, email, password, null);
    }

    /** {@code POST /auth/login} from the client address a proxy names in {@code X-Forwarded-For} (null: none). */
    public static TestApp.Response attemptLogin(TestApp app, String email, String password, String forwardedFor) {
        HttpRequest.Builder request = app.request("/auth/login", null)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(
                        Json.write(Json.object().put("email", email).put("password", password))));
        if (forwardedFor != null) {
            request.header("X-Forwarded-For", forwardedFor);
        }
        return app.send(request.build());
    }

    /** {@code POST /auth/refresh} as sent, whatever the answer. */
    public static TestApp.Response attemptRefresh(TestApp app, String refreshToken) {
        return app.post("/auth/refresh", Json.write(Json.object().put("refresh_token", refreshToken)), null);
    }

    /** Registers a fresh account and returns the answer's JSON (user and token pair), failing the test otherwise. */
    public static JsonNode registeredPair(TestApp app) {
        TestApp.Response response = attemptRegister(app, uniqueEmail(), PASSWORD);
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        return response.json();
    }

    public static User register(TestApp app) {
        return user(registeredPair(app));
    }

    /** A new sign-in of the same account: a token pair of another family. */
    public static User login(TestApp app, User user) {
        TestApp.Response response = attemptLogin(app, user.email(), PASSWORD);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return user(response.json());
    }

    /** A refreshed token pair of the same family. */
    public static User refresh(TestApp app, User user) {
        TestApp.Response response = attemptRefresh(app, user.refreshToken());
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return user(response.json());
    }

    private static User user(JsonNode pair) {
        return new User(pair.path("user").path("id").asText(), pair.path("user").path("email").asText(),
                pair.path("access_token").asText(), pair.path("refresh_token").asText());
    }
}
