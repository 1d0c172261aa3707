package dev.parley.server.auth.oidc;

import dev.parley.server.db.Sql;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The V5 tables in the relational database: sign-ins in progress ({@code oidc_logins}), links from a provider's
 * user to an account ({@code oidc_identities}) and the one-time codes the web page trades for tokens
 * ({@code oidc_codes}). States, browser keys and codes are stored as their SHA-256, so that a copy of the database
 * cannot finish anyone's sign-in. Claiming a sign-in or a code is a conditional update that only one caller can win,
 * on any number of instances. Holds no state of its own.
 */
final class OidcStore {
    /** A sign-in started by GET /auth/login, as the callback needs it back. */
    record PendingLogin(String provider, String browserHash, String nonce, String codeVerifier, Instant expiresAt) {
        @Override
        public String toString() {
            return "PendingLogin[provider=" + provider + ", expiresAt=" + expiresAt + "]";
        }
    }

    /** The result of presenting a state at the callback. */
    sealed interface LoginClaim {
        /** The sign-in was live; it is now used and nobody can present its state again. */
        record Claimed(PendingLogin login) implements LoginClaim {
        }

        /** The state was never issued here, or was purged. */
        record Unknown() implements LoginClaim {
        }

        /** The sign-in was started too long ago. */
        record Expired() implements LoginClaim {
        }

        /** The state was presented before. */
        record Used() implements LoginClaim {
        }
    }

    /** The result of presenting a one-time code. */
    sealed interface CodeClaim {
        /** The code was live: it is now spent, and opens sign-in {@code familyId} for the account. */
        record Claimed(String userId, String familyId, String provider) implements CodeClaim {
        }

        /** The code had been spent already, opening sign-in {@code familyId}. */
        record Replayed(String familyId, String provider) implements CodeClaim {
        }

        /** The code was never issued, was purged, or expired unused. */
        record Invalid() implements CodeClaim {
        }
    }

    private record CodeRow(String userId, String familyId, String provider, boolean used) {
    }

    private final Sql sql;

    OidcStore(Sql sql) {
        this.sql = sql;
    }

    void saveLogin(String state, PendingLogin login, Instant now) {
        sql.update("INSERT INTO oidc_logins (state_hash, provider, browser_hash, nonce, code_verifier, created_at, "
                        + "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                sha256(state), login.provider(), login.browserHash(), login.nonce(), login.codeVerifier(), now,
                login.expiresAt());
    }

    /** Marks the sign-in of this state used, unless it is unknown, expired or used already. */
    LoginClaim claimLogin(String state, Instant now) {
        String stateHash = sha256(state);
        return sql.inTransaction(connection -> {
            List<Optional<PendingLogin>> rows = Sql.query(connection,
                    "SELECT provider, browser_hash, nonce, code_verifier, expires_at, used_at FROM oidc_logins "
                            + "WHERE state_hash = ?",
                    row -> row.getTimestamp("used_at") != null ? Optional.<PendingLogin>empty()
                            : Optional.of(new PendingLogin(row.getString("provider"), row.getString("browser_hash"),
                            row.getString("nonce"), row.getString("code_verifier"), Sql.instant(row, "expires_at"))),
                    stateHash);
            if (rows.isEmpty()) {
                return new LoginClaim.Unknown();
            }
            if (rows.getFirst().isEmpty()) {
                return new LoginClaim.Used();
            }
            PendingLogin login = rows.getFirst().get();
            if (!now.isBefore(login.expiresAt())) {
                return new LoginClaim.Expired();
            }
            int claimed = Sql.update(connection,
                    "UPDATE oidc_logins SET used_at = ? WHERE state_hash = ? AND used_at IS NULL", now, stateHash);
            return claimed == 1 ? new LoginClaim.Claimed(login) : new LoginClaim.Used();
        });
    }

    /** The account linked to this provider user, if any, noting the sign-in. */
    Optional<String> findLinkedUser(String issuer, String subject, String email, Instant now) {
        Optional<String> userId = sql.queryOne(
                "SELECT user_id FROM oidc_identities WHERE issuer = ? AND subject = ?",
                row -> row.getString("user_id"), issuer, subject);
        if (userId.isPresent()) {
            sql.update("UPDATE oidc_identities SET last_login_at = ?, email = ? WHERE issuer = ? AND subject = ?",
                    now, email, issuer, subject);
        }
        return userId;
    }

    /** Links a provider user to an account; false when that provider user was linked meanwhile (to any account). */
    boolean link(String issuer, String subject, String userId, String provider, String email, Instant now) {
        try {
            sql.update("INSERT INTO oidc_identities (issuer, subject, user_id, provider, email, created_at, "
                    + "last_login_at) VALUES (?, ?, ?, ?, ?, ?, ?)", issuer, subject, userId, provider, email, now, now);
            return true;
        } catch (RuntimeException e) {
            if (Sql.isUniqueViolation(e)) {
                return false;
            }
            throw e;
        }
    }

    void saveCode(String code, String userId, String familyId, String provider, Instant now, Instant expiresAt) {
        sql.update("INSERT INTO oidc_codes (code_hash, user_id, family_id, provider, created_at, expires_at) "
                + "VALUES (?, ?, ?, ?, ?, ?)", sha256(code), userId, familyId, provider, now, expiresAt);
    }

    /** Spends a one-time code, unless it is unknown, expired or spent already. */
    CodeClaim claimCode(String code, Instant now) {
        String codeHash = sha256(code);
        return sql.inTransaction(connection -> {
            int claimed = Sql.update(connection,
                    "UPDATE oidc_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                    now, codeHash, now);
            List<CodeRow> rows = Sql.query(connection,
                    "SELECT user_id, family_id, provider, used_at FROM oidc_codes WHERE code_hash = ?",
                    row -> new CodeRow(row.getString("user_id"), row.getString("family_id"), row.getString("provider"),
                            row.getTimestamp("used_at") != null), codeHash);
            if (rows.isEmpty()) {
                return new CodeClaim.Invalid();
            }
            CodeRow row = rows.getFirst();
            if (claimed == 1) {
                return new CodeClaim.Claimed(row.userId(), row.familyId(), row.provider());
            }
            return row.used() ? new CodeClaim.Replayed(row.familyId(), row.provider()) : new CodeClaim.Invalid();
        });
    }

    /**
     * Deletes the sign-ins that expired before {@code loginsExpiredBefore} and the codes that expired before
     * {@code codesExpiredBefore}; returns how many rows went.
     */
    int purgeExpired(Instant loginsExpiredBefore, Instant codesExpiredBefore) {
        return sql.inTransaction(connection ->
                Sql.update(connection, "DELETE FROM oidc_logins WHERE expires_at < ?", loginsExpiredBefore)
                        + Sql.update(connection, "DELETE FROM oidc_codes WHERE expires_at < ?", codesExpiredBefore));
    }

    static String sha256(String value) {
        try {
            return HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
