package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ApiResponse;
import java.util.Locale;

/** {@code auth.register}, {@code auth.login} and {@code auth.me}: how the validator gets its first user. */
final class AuthChecks {
    private AuthChecks() {
    }

    static void register(Target target, Probe probe) {
        Target.Registration registration = target.register("a");
        ApiResponse answer = registration.answer();
        probe.measureAnswer(answer);
        probe.expect(answer.status() == 201, "POST /auth/register answers 201 with a token pair",
                registration::describe);
        if (registration.ok()) {
            target.primary = registration.account();
            checkTokenPair(probe, "POST /auth/register", answer, registration.identity().email());
        }
    }

    /** Logs in with the account that {@code auth.register} created. */
    static void loginAsRegistered(Target target, Probe probe) {
        Account account = target.primary;
        ApiResponse answer = target.http.login(account.email(), account.password());
        probe.measureAnswer(answer);
        probe.expect(answer.status() == 200, "POST /auth/login with the registered credentials answers 200",
                () -> answer.status() + " " + Frames.excerpt(answer.body()));
        if (answer.status() == 200) {
            checkTokenPair(probe, "POST /auth/login", answer, account.email());
            String id = answer.json().path("user").path("id").asText("");
            if (account.userId() != null) {
                probe.expect(id.equals(account.userId()), "the same user.id as at registration",
                        () -> "'" + id + "' after registering as '" + account.userId() + "'");
            }
        }
    }

    static void login(Target target, Probe probe, Options.Credentials.Login credentials) {
        ApiResponse answer = target.http.login(credentials.email(), credentials.password());
        probe.measureAnswer(answer);
        String token = answer.json().path("access_token").asText("");
        if (answer.status() != 200 || token.isEmpty()) {
            throw probe.fail("POST /auth/login answers 200 with a token pair",
                    answer.status() + " " + Frames.excerpt(answer.body()));
        }
        String id = answer.json().path("user").path("id").asText("");
        target.primary = new Account(credentials.email(), credentials.password(), token, id.isEmpty() ? null : id);
        checkTokenPair(probe, "POST /auth/login", answer, credentials.email());
    }

    /** GET /auth/me with the first user's token; fills in the user id that the welcome frame must name. */
    static void me(Target target, Probe probe) {
        Account account = target.primary;
        ApiResponse answer = target.http.me(account.accessToken());
        probe.measureAnswer(answer);
        if (answer.status() != 200) {
            throw probe.fail("GET /auth/me answers 200", answer.status() + " " + Frames.excerpt(answer.body()));
        }
        JsonNode body = answer.json();
        String id = body.path("id").asText("");
        String email = body.path("email").asText("");
        for (String field : new String[] {"id", "email", "created_at"}) {
            probe.expect(!body.path(field).asText("").isEmpty(), "GET /auth/me has a non-empty " + field,
                    () -> Frames.excerpt(answer.body()));
        }
        probe.expect(body.has("name"), "GET /auth/me has a name field", () -> Frames.excerpt(answer.body()));
        if (account.userId() != null) {
            probe.expect(id.equals(account.userId()), "the id given with the token pair",
                    () -> "'" + id + "', the token pair said '" + account.userId() + "'");
        }
        if (account.email() != null) {
            probe.expect(email.equalsIgnoreCase(account.email()), "the email of the account",
                    () -> "'" + email + "' for '" + account.email() + "'");
        }
        if (!id.isEmpty()) {
            target.primary = new Account(account.email() != null ? account.email() : email, account.password(),
                    account.accessToken(), account.userId() != null ? account.userId() : id);
        }
    }

    /** {@code {access_token, refresh_token, token_type:"Bearer", expires_in, user:{id, email, name}}}. */
    static void checkTokenPair(Probe probe, String route, ApiResponse answer, String email) {
        JsonNode body = answer.json();
        String excerpt = Frames.excerpt(answer.body());
        for (String field : new String[] {"access_token", "refresh_token"}) {
            probe.expect(!body.path(field).asText("").isEmpty(), route + " returns a non-empty " + field,
                    () -> excerpt);
        }
        probe.expect(body.path("token_type").asText("").equals("Bearer"), route + " returns token_type \"Bearer\"",
                () -> "token_type " + body.path("token_type"));
        probe.expect(body.path("expires_in").canConvertToLong() && body.path("expires_in").asLong() > 0,
                route + " returns a positive expires_in", () -> "expires_in " + body.path("expires_in"));
        JsonNode user = body.path("user");
        probe.expect(!user.path("id").asText("").isEmpty(), route + " returns user.id", () -> "user " + user);
        probe.expect(user.path("email").asText("").toLowerCase(Locale.ROOT).equals(email.toLowerCase(Locale.ROOT)),
                route + " returns user.email '" + email + "'", () -> "user " + user);
        probe.expect(user.has("name"), route + " returns user.name", () -> "user " + user);
    }
}
