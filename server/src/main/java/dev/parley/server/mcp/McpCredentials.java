package dev.parley.server.mcp;

import dev.parley.server.db.Sql;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.Optional;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Users' own credentials for MCP servers whose auth mode is {@code user_secret}, in {@code mcp_credentials}: sealed
 * with AES-256-GCM under {@code PARLEY_MCP_CREDENTIALS_KEY}, a fresh 96-bit nonce each time, and the user and server
 * as associated data, so that a sealed value copied to another row does not open. A value that does not open (another
 * key) counts as absent: the user stores it again. Never logged. Thread-safe.
 */
public final class McpCredentials {
    private static final String PREFIX = "v1:";
    private static final int NONCE_BYTES = 12;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Sql sql;
    private final SecretKeySpec key;
    private final Clock clock;

    public McpCredentials(Sql sql, byte[] key, Clock clock) {
        this.sql = sql;
        this.key = new SecretKeySpec(key, "AES");
        this.clock = clock;
    }

    /** Stores (or replaces) the user's credential for the server. */
    public void put(String userId, String serverId, String token) {
        String sealed = seal(userId, serverId, token);
        if (sql.update("UPDATE mcp_credentials SET sealed = ?, updated_at = ? WHERE user_id = ? AND server_id = ?",
                sealed, clock.instant(), userId, serverId) > 0) {
            return;
        }
        try {
            sql.update("INSERT INTO mcp_credentials (user_id, server_id, sealed, updated_at) VALUES (?, ?, ?, ?)",
                    userId, serverId, sealed, clock.instant());
        } catch (RuntimeException e) {
            if (!Sql.isUniqueViolation(e)) {
                throw e;
            }
            // Another request of the same user stored one meanwhile: the last write wins.
            sql.update("UPDATE mcp_credentials SET sealed = ?, updated_at = ? WHERE user_id = ? AND server_id = ?",
                    sealed, clock.instant(), userId, serverId);
        }
    }

    public void delete(String userId, String serverId) {
        sql.update("DELETE FROM mcp_credentials WHERE user_id = ? AND server_id = ?", userId, serverId);
    }

    /** The user's credential for the server, opened; empty when none is stored or it does not open. */
    public Optional<String> find(String userId, String serverId) {
        return sql.queryOne("SELECT sealed FROM mcp_credentials WHERE user_id = ? AND server_id = ?",
                row -> row.getString("sealed"), userId, serverId).flatMap(sealed -> open(userId, serverId, sealed));
    }

    private String seal(String userId, String serverId, String token) {
        try {
            byte[] nonce = new byte[NONCE_BYTES];
            RANDOM.nextBytes(nonce);
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
            cipher.updateAAD(associated(userId, serverId));
            byte[] sealed = cipher.doFinal(token.getBytes(StandardCharsets.UTF_8));
            byte[] all = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, all, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, all, NONCE_BYTES, sealed.length);
            return PREFIX + Base64.getEncoder().encodeToString(all);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available", e);
        }
    }

    private Optional<String> open(String userId, String serverId, String stored) {
        if (!stored.startsWith(PREFIX)) {
            return Optional.empty();
        }
        try {
            byte[] all = Base64.getDecoder().decode(stored.substring(PREFIX.length()));
            if (all.length <= NONCE_BYTES) {
                return Optional.empty();
            }
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, all, 0, NONCE_BYTES));
            cipher.updateAAD(associated(userId, serverId));
            byte[] plain = cipher.doFinal(all, NONCE_BYTES, all.length - NONCE_BYTES);
            return Optional.of(new String(plain, StandardCharsets.UTF_8));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return Optional.empty(); // sealed under another key, or damaged: the user stores it again
        }
    }

    private static byte[] associated(String userId, String serverId) {
        return (userId + "\n" + serverId).getBytes(StandardCharsets.UTF_8);
    }
}
