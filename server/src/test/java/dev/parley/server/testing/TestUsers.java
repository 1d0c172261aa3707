package dev.parley.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import java.util.UUID;

/** Accounts registered over real HTTP, with their tokens. */
public final class TestUsers {
    public static final String PASSWORD = "correct horse battery staple";

    private TestUsers() {
    }

    /** A registered user and the token pair of its registration. */
    public record User(String id, String email, String accessToken, String refreshToken) {
    }

    public static User register(TestApp app) {
        String email = "user-" + UUID.randomUUID().toString().substring(0, 12) + "@example.org";
        TestApp.Response response = app.post("/auth/register",
                Json.write(Json.object().put("email", email).put("password", PASSWORD)), null);
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        return user(response.json());
    }

    /** A new sign-in of the same account: a token pair of another family. */
    public static User login(TestApp app, User user) {
        TestApp.Response response = app.post("/auth/login",
                Json.write(Json.object().put("email", user.email()).put("password", PASSWORD)), null);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return user(response.json());
    }

    /** A refreshed token pair of the same family. */
    public static User refresh(TestApp app, User user) {
        TestApp.Response response = app.post("/auth/refresh",
                Json.write(Json.object().put("refresh_token", user.refreshToken())), null);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return user(response.json());
    }

    private static User user(JsonNode pair) {
        return new User(pair.path("user").path("id").asText(), pair.path("user").path("email").asText(),
                pair.path("access_token").asText(), pair.path("refresh_token").asText());
    }
}
