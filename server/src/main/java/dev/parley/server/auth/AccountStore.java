package dev.parley.server.auth;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.Sql;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Accounts, token families and refresh tokens in the relational database (the V1 tables {@code users},
 * {@code token_families}, {@code refresh_tokens}), through plain JDBC that both PostgreSQL and the embedded SQLite accept.
 *
 * <p>A token family is one sign-in: every access and refresh token issued from it carries the family id, and
 * revoking the family ({@code revoked_at}) revokes all of them. Refresh tokens are single use: rotation marks the
 * presented one spent and stores its successor in one transaction that holds the family row locked, so two
 * concurrent uses of the same token cannot both succeed. The class holds no state of its own.
 */
final class AccountStore {
    /** Why a family was revoked, as stored in {@code token_families.revoked_why}. */
    enum RevokeReason {
        LOGOUT("logout"), REFRESH_REUSE("refresh_reuse"), CODE_REUSE("code_reuse");

        final String stored;

        RevokeReason(String stored) {
            this.stored = stored;
        }
    }

    /** An account with its password hash, which is null for accounts made by dev login. */
    record Credentials(User user, String passwordHash) {
        @Override
        public String toString() {
            return "Credentials[user=" + user.id() + "]";
        }
    }

    /** The result of presenting a refresh token for rotation. */
    sealed interface Rotation {
        /** The token was live: it is now spent and its successor stored. */
        record Rotated(User user) implements Rotation {
        }

        /** The token had been spent already: the family is now revoked. */
        record Reused() implements Rotation {
        }

        /** The family was revoked before; nothing changed. */
        record FamilyRevoked() implements Rotation {
        }

        /** No such family or token (deleted, expired and purged, or never issued by this database). */
        record Unknown() implements Rotation {
        }
    }

    private static final String USER_COLUMNS = "id, email, name, created_at";

    private final Sql sql;

    AccountStore(Sql sql) {
        this.sql = sql;
    }

    /**
     * Creates an account; {@code passwordHash} may be null (dev login accounts have no password).
     *
     * @throws ProtocolException {@link ErrorCode#EMAIL_TAKEN} when another account has the email
     */
    User createUser(String email, String name, String passwordHash, Instant now) {
        // Milliseconds, the precision of the wire, so that the returned user equals the one read back on any database.
        Instant createdAt = now.truncatedTo(ChronoUnit.MILLIS);
        User user = new User(UUID.randomUUID().toString(), email, name, createdAt);
        try {
            sql.update("INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                    user.id(), email, name, passwordHash, createdAt);
        } catch (RuntimeException e) {
            if (Sql.isUniqueViolation(e)) {
                throw new ProtocolException(ErrorCode.EMAIL_TAKEN, "An account with this email already exists.");
            }
            throw e;
        }
        return user;
    }

    Optional<User> findUser(String id) {
        return sql.queryOne("SELECT " + USER_COLUMNS + " FROM users WHERE id = ?", AccountStore::user, id);
    }

    Optional<User> findUserByEmail(String email) {
        return sql.queryOne("SELECT " + USER_COLUMNS + " FROM users WHERE email = ?", AccountStore::user, email);
    }

    Optional<Credentials> findCredentials(String email) {
        return sql.queryOne("SELECT " + USER_COLUMNS + ", password_hash FROM users WHERE email = ?",
                row -> new Credentials(user(row), row.getString("password_hash")), email);
    }

    void updatePasswordHash(String userId, String passwordHash) {
        sql.update("UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, userId);
    }

    /** Starts a family with its first refresh token, both expiring at {@code expiresAt}. */
    void openFamily(String familyId, String userId, String refreshTokenId, Instant now, Instant expiresAt) {
        sql.inTransaction(connection -> {
            Sql.update(connection,
                    "INSERT INTO token_families (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    familyId, userId, now, expiresAt);
            insertRefreshToken(connection, refreshTokenId, familyId, userId, now, expiresAt);
            return null;
        });
    }

    /**
     * Spends refresh token {@code presentedId} of the family and stores {@code nextId} in its place, or, when the
     * presented token was spent already, revokes the family: a spent token coming back means that it was copied, and
     * nobody can tell which of the two holders is the rightful one.
     */
    Rotation rotate(String familyId, String userId, String presentedId, String nextId, Instant now, Instant expiresAt) {
        return sql.inTransaction(connection -> {
            List<Boolean> revoked = Sql.query(connection,
                    "SELECT revoked_at FROM token_families WHERE id = ? AND user_id = ?" + sql.forUpdate(),
                    row -> row.getTimestamp("revoked_at") != null, familyId, userId);
            if (revoked.isEmpty()) {
                return new Rotation.Unknown();
            }
            if (revoked.getFirst()) {
                return new Rotation.FamilyRevoked();
            }
            int spent = Sql.update(connection,
                    "UPDATE refresh_tokens SET spent_at = ? WHERE id = ? AND family_id = ? AND spent_at IS NULL",
                    now, presentedId, familyId);
            if (spent == 1) {
                insertRefreshToken(connection, nextId, familyId, userId, now, expiresAt);
                Sql.update(connection, "UPDATE token_families SET expires_at = ? WHERE id = ?", expiresAt, familyId);
                List<User> users = Sql.query(connection, "SELECT " + USER_COLUMNS + " FROM users WHERE id = ?",
                        AccountStore::user, userId);
                return users.isEmpty() ? new Rotation.Unknown() : new Rotation.Rotated(users.getFirst());
            }
            List<String> known = Sql.query(connection,
                    "SELECT id FROM refresh_tokens WHERE id = ? AND family_id = ?", row -> row.getString("id"),
                    presentedId, familyId);
            if (known.isEmpty()) {
                return new Rotation.Unknown();
            }
            revoke(connection, familyId, RevokeReason.REFRESH_REUSE, now);
            return new Rotation.Reused();
        });
    }

    /** Revokes a family; returns whether it was live until now (false: already revoked or unknown). */
    boolean revokeFamily(String familyId, RevokeReason reason, Instant now) {
        return sql.withConnection(connection -> revoke(connection, familyId, reason, now));
    }

    /** Whether the family exists and is not revoked: the one indexed lookup behind every token verification. */
    boolean isFamilyActive(String familyId) {
        return sql.queryOne("SELECT revoked_at FROM token_families WHERE id = ?",
                row -> row.getTimestamp("revoked_at") == null, familyId).orElse(false);
    }

    /**
     * Deletes the families that ended before {@code familiesEndedBefore} (their refresh tokens go with them) and the
     * refresh tokens that expired before {@code tokensExpiredBefore}; returns how many rows went.
     */
    int purgeExpired(Instant familiesEndedBefore, Instant tokensExpiredBefore) {
        return sql.inTransaction(connection ->
                Sql.update(connection, "DELETE FROM refresh_tokens WHERE expires_at < ?", tokensExpiredBefore)
                        + Sql.update(connection, "DELETE FROM token_families WHERE expires_at < ?", familiesEndedBefore));
    }

    private static boolean revoke(Connection connection, String familyId, RevokeReason reason, Instant now)
            throws SQLException {
        return Sql.update(connection,
                "UPDATE token_families SET revoked_at = ?, revoked_why = ? WHERE id = ? AND revoked_at IS NULL",
                now, reason.stored, familyId) == 1;
    }

    private static void insertRefreshToken(Connection connection, String id, String familyId, String userId,
                                           Instant now, Instant expiresAt) throws SQLException {
        Sql.update(connection,
                "INSERT INTO refresh_tokens (id, family_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                id, familyId, userId, now, expiresAt);
    }

    private static User user(ResultSet row) throws SQLException {
        return new User(row.getString("id"), row.getString("email"), row.getString("name"),
                Sql.instant(row, "created_at"));
    }
}
