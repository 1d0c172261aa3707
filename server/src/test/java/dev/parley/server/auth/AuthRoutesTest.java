package dev.parley.server.auth;

import static dev.parley.server.auth.AuthFlows.me;
import static dev.parley.server.testing.TestUsers.PASSWORD;
import static dev.parley.server.testing.TestUsers.attemptLogin;
import static dev.parley.server.testing.TestUsers.attemptRegister;
import static dev.parley.server.testing.TestUsers.uniqueEmail;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Each /auth route's success and error rows, over real HTTP. */
class AuthRoutesTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_LOGIN_MAX_ATTEMPTS", "1000"));
    }

    @Test
    void registerAnswersTokenPairWithTheNormalisedAccount() {
        Instant before = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        TestApp.Response response = app.post("/auth/register",
                "{\"email\":\"  Ada.Lovelace+Notes@Example.ORG \",\"password\":\"" + PASSWORD + "\",\"name\":\" Ada \"}", null);

        assertThat(response.status()).as(response.body()).isEqualTo(201);
        JsonNode pair = response.json();
        assertThat(pair.path("access_token").asText()).matches("[\\w-]+\\.[\\w-]+\\.[\\w-]+");
        assertThat(pair.path("refresh_token").asText()).matches("[\\w-]+\\.[\\w-]+\\.[\\w-]+")
                .isNotEqualTo(pair.path("access_token").asText());
        assertThat(pair.path("token_type").asText()).isEqualTo("Bearer");
        assertThat(pair.path("expires_in").asLong()).isEqualTo(900);
        assertThat(pair.path("user").path("email").asText()).isEqualTo("ada.lovelace+notes@example.org");
        assertThat(pair.path("user").path("name").asText()).isEqualTo("Ada");
        assertThat(pair.path("user").path("id").asText()).isNotBlank();
        assertThat(response.header("Cache-Control")).isEqualTo("no-store");

        TestApp.Response profile = me(app, pair.path("access_token").asText());
        assertThat(profile.status()).isEqualTo(200);
        assertThat(profile.json().path("id").asText()).isEqualTo(pair.path("user").path("id").asText());
        assertThat(profile.json().path("email").asText()).isEqualTo("ada.lovelace+notes@example.org");
        assertThat(profile.json().path("name").asText()).isEqualTo("Ada");
        String createdAt = profile.json().path("created_at").asText();
        assertThat(createdAt).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
        assertThat(Instant.parse(createdAt)).isAfterOrEqualTo(before.minusSeconds(1));
    }

    @Test
    void registerWithoutNameUsesTheLocalPart() {
        String email = uniqueEmail();
        JsonNode pair = attemptRegister(app, email, PASSWORD).json();
        assertThat(pair.path("user").path("name").asText()).isEqualTo(email.substring(0, email.indexOf('@')));
    }

    @Test
    void registerRefusesBadEmails() {
        for (String email : new String[] {"", "no-at-sign", "two@@example.org", "a@b@example.org", "space in@example.org",
                "dot.@example.org", "user@localhost", "user@-example.org", "user@example..org", "user@192.168.0.1",
                "x".repeat(65) + "@example.org", "user@" + "d".repeat(250) + ".org"}) {
            TestApp.Response response = attemptRegister(app, email, PASSWORD);
            assertThat(response.status()).as(email).isEqualTo(400);
            assertThat(response.errorCode()).as(email).isEqualTo("invalid_email");
        }
    }

    @Test
    void registerRefusesPasswordsTooShortOrTooLong() {
        for (String password : new String[] {"", "seven77", "\u00e9".repeat(7), "x".repeat(1025)}) {
            TestApp.Response response = attemptRegister(app, uniqueEmail(), password);
            assertThat(response.status()).as("length %d", password.length()).isEqualTo(400);
            assertThat(response.errorCode()).isEqualTo("weak_password");
        }
        assertThat(attemptRegister(app, uniqueEmail(), "eight888").status()).isEqualTo(201);
        assertThat(attemptRegister(app, uniqueEmail(), "y".repeat(1024)).status()).isEqualTo(201);
    }

    @Test
    void registerRefusesMissingOrMistypedFields() {
        for (String body : new String[] {"{}", "{\"email\":\"a@example.org\"}", "{\"password\":\"" + PASSWORD + "\"}",
                "{\"email\":null,\"password\":\"" + PASSWORD + "\"}", "{\"email\":42,\"password\":\"" + PASSWORD + "\"}",
                "{\"email\":\"" + uniqueEmail() + "\",\"password\":\"" + PASSWORD + "\",\"name\":[1]}",
                "{\"email\":\"" + uniqueEmail() + "\",\"password\":\"" + PASSWORD + "\",\"name\":\"" + "n".repeat(201) + "\"}"}) {
            TestApp.Response response = app.post("/auth/register", body, null);
            assertThat(response.status()).as(body).isEqualTo(400);
            assertThat(response.errorCode()).as(body).isEqualTo("invalid_request");
        }
        TestApp.Response notJson = app.post("/auth/register", "{email:", null);
        assertThat(notJson.status()).isEqualTo(400);
        assertThat(notJson.errorCode()).isEqualTo("invalid_json");
    }

    @Test
    void registerRefusesATakenEmailWhateverItsCase() {
        String email = uniqueEmail();
        assertThat(attemptRegister(app, email, PASSWORD).status()).isEqualTo(201);
        TestApp.Response again = attemptRegister(app, email.toUpperCase(java.util.Locale.ROOT), "another password");
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.errorCode()).isEqualTo("email_taken");
        assertThat(again.json().path("error").path("request_id").asText()).isEqualTo(again.header("X-Request-Id"));
    }

    @Test
    void loginAnswersTokenPairForTheSameAccount() {
        String email = uniqueEmail();
        JsonNode registered = attemptRegister(app, email, PASSWORD).json();
        TestApp.Response response = attemptLogin(app, " " + email.toUpperCase(java.util.Locale.ROOT) + " ", PASSWORD);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        JsonNode pair = response.json();
        assertThat(pair.path("user").path("id").asText()).isEqualTo(registered.path("user").path("id").asText());
        assertThat(pair.path("token_type").asText()).isEqualTo("Bearer");
        assertThat(pair.path("expires_in").asLong()).isEqualTo(900);
        assertThat(me(app, pair.path("access_token").asText()).status()).isEqualTo(200);
        // A new sign-in is a new family: signing out of it leaves the first session alone.
        assertThat(AuthFlows.logout(app, pair.path("access_token").asText()).status()).isEqualTo(200);
        assertThat(me(app, registered.path("access_token").asText()).status()).isEqualTo(200);
    }

    @Test
    void loginGivesTheSameAnswerForAWrongPasswordAndAnUnknownEmail() {
        String email = uniqueEmail();
        attemptRegister(app, email, PASSWORD);
        TestApp.Response wrongPassword = attemptLogin(app, email, "not the password");
        TestApp.Response unknownEmail = attemptLogin(app, uniqueEmail(), "not the password");
        for (TestApp.Response response : new TestApp.Response[] {wrongPassword, unknownEmail}) {
            assertThat(response.status()).isEqualTo(401);
            assertThat(response.errorCode()).isEqualTo("invalid_credentials");
        }
        JsonNode a = wrongPassword.json().path("error").deepCopy();
        JsonNode b = unknownEmail.json().path("error").deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) a).remove("request_id");
        ((com.fasterxml.jackson.databind.node.ObjectNode) b).remove("request_id");
        assertThat(a).isEqualTo(b);
    }

    @Test
    void loginRefusesMissingFields() {
        for (String body : new String[] {"{}", "{\"email\":\"a@example.org\"}", "{\"password\":\"x\"}",
                "{\"email\":\"\",\"password\":\"" + PASSWORD + "\"}", "{\"email\":\"a@example.org\",\"password\":\"\"}",
                "{\"email\":\"a@example.org\",\"password\":12345678}", ""}) {
            TestApp.Response response = app.post("/auth/login", body, null);
            assertThat(response.status()).as(body).isEqualTo(400);
            assertThat(response.errorCode()).as(body).isEqualTo("invalid_request");
        }
    }

    @Test
    void logoutAnswersLoggedOutAndRevokesTheFamily() {
        JsonNode pair = TestUsers.registeredPair(app);
        String access = pair.path("access_token").asText();
        TestApp.Response response = AuthFlows.logout(app, access);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.json()).isEqualTo(Json.object().put("status", "logged_out"));

        TestApp.Response after = me(app, access);
        assertThat(after.status()).isEqualTo(401);
        assertThat(after.errorCode()).isEqualTo("token_revoked");
        TestApp.Response refresh = TestUsers.attemptRefresh(app, pair.path("refresh_token").asText());
        assertThat(refresh.status()).isEqualTo(401);
        assertThat(refresh.errorCode()).isEqualTo("token_revoked");
        assertThat(AuthFlows.logout(app, access).status()).isEqualTo(401);
    }

    @Test
    void logoutAndMeNeedABearerToken() {
        for (TestApp.Response response : new TestApp.Response[] {AuthFlows.logout(app, null), me(app, null)}) {
            assertThat(response.status()).isEqualTo(401);
            assertThat(response.errorCode()).isEqualTo("unauthorized");
            assertThat(response.header("WWW-Authenticate")).isEqualTo("Bearer realm=\"parley\"");
        }
        TestApp.Response basic = app.send(app.request("/auth/me", null).header("Authorization", "Basic dXNlcjpwdw==")
                .GET().build());
        assertThat(basic.status()).isEqualTo(401);
        assertThat(basic.errorCode()).isEqualTo("unauthorized");
    }

    @Test
    void configDescribesTheSignInOptions() {
        TestApp.Response response = app.get("/auth/config", null);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.json()).isEqualTo(Json.parse(
                "{\"providers\":[],\"dev_login\":false,\"access_token_ttl_s\":900,\"registration_open\":true}"));
    }

    @Test
    void devLoginIsNotFoundWhenDevModeIsOff() {
        TestApp.Response response = app.post("/auth/dev/login", "{}", null);
        assertThat(response.status()).isEqualTo(404);
        assertThat(response.errorCode()).isEqualTo("not_found");
        assertThat(app.post("/auth/dev/login", "", null).status()).isEqualTo(404);
    }

    @Test
    void oversizedBodyIsRefusedWithACode() {
        String body = "{\"email\":\"a@example.org\",\"password\":\"" + "p".repeat(20_000) + "\"}";
        TestApp.Response response = app.post("/auth/login", body, null);
        assertThat(response.status()).isEqualTo(413);
        assertThat(response.errorCode()).isEqualTo("message_too_large");
    }

    @Test
    void registrationClosedIsRefusedWithForbidden() {
        try (TestApp closed = TestApp.start(Map.of("PARLEY_REGISTRATION_OPEN", "false"))) {
            TestApp.Response response = attemptRegister(closed, uniqueEmail(), PASSWORD);
            assertThat(response.status()).isEqualTo(403);
            assertThat(response.errorCode()).isEqualTo("registration_closed");
            TestApp.Response empty = closed.post("/auth/register", "{}", null);
            assertThat(empty.status()).isEqualTo(403);
            assertThat(empty.errorCode()).isEqualTo("registration_closed");
            assertThat(closed.get("/auth/config", null).json().path("registration_open").asBoolean()).isFalse();
        }
    }

    @Test
    void devLoginCreatesOrReusesTheAccountWhenEnabled() {
        try (TestApp dev = TestApp.start(Map.of("PARLEY_DEV_LOGIN", "true"))) {
            assertThat(dev.get("/auth/config", null).json().path("dev_login").asBoolean()).isTrue();

            TestApp.Response first = dev.post("/auth/dev/login", "", null);
            assertThat(first.status()).as(first.body()).isEqualTo(200);
            assertThat(first.json().path("user").path("email").asText()).isEqualTo("dev@parley.local");
            assertThat(first.json().path("token_type").asText()).isEqualTo("Bearer");
            TestApp.Response second = dev.post("/auth/dev/login", "{}", null);
            assertThat(second.json().path("user").path("id").asText())
                    .isEqualTo(first.json().path("user").path("id").asText());
            assertThat(me(dev, second.json().path("access_token").asText()).status()).isEqualTo(200);

            TestApp.Response named = dev.post("/auth/dev/login", "{\"email\":\"Tester@Example.org\"}", null);
            assertThat(named.status()).isEqualTo(200);
            assertThat(named.json().path("user").path("email").asText()).isEqualTo("tester@example.org");
            assertThat(named.json().path("user").path("id").asText())
                    .isNotEqualTo(first.json().path("user").path("id").asText());

            TestApp.Response bad = dev.post("/auth/dev/login", "{\"email\":\"nope\"}", null);
            assertThat(bad.status()).isEqualTo(400);
            assertThat(bad.errorCode()).isEqualTo("invalid_email");

            // A dev account has no password: a password sign-in to it fails like any other.
            TestApp.Response password = attemptLogin(dev, "dev@parley.local", PASSWORD);
            assertThat(password.status()).isEqualTo(401);
            assertThat(password.errorCode()).isEqualTo("invalid_credentials");
        }
    }
}
