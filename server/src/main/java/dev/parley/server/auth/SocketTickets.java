package dev.parley.server.auth;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.Sql;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Single-use tickets for {@code ?ticket=} on the socket URL, kept in the database so that a ticket issued by one
 * instance opens a socket on any other. Only a ticket's SHA-256 is stored. A ticket carries the principal of the
 * access token it was issued with; it expires after its own short lifetime or with that token, whichever comes
 * first, and it is refused once that token's family (its sign-in, in {@code token_families}) is revoked: the check is
 * part of spending it, so it holds on every instance; the revocation listener only deletes the dead rows early.
 * Stateless and thread-safe.
 */
public final class SocketTickets {
    private static final SecureRandom RANDOM = new SecureRandom();

    public record Issued(String ticket, Instant expiresAt) {
    }

    private final Sql sql;
    private final Clock clock;

    public SocketTickets(Sql sql, Clock clock) {
        this.sql = sql;
        this.clock = clock;
    }

    public Issued issue(Principal principal, Duration ttl) {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        String ticket = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        Instant now = clock.instant();
        Instant expiresAt = now.plus(ttl);
        if (principal.expiresAt().isBefore(expiresAt)) {
            expiresAt = principal.expiresAt();
        }
        sql.update("INSERT INTO socket_tickets (ticket_hash, user_id, email, token_id, family_id, token_expires_at, "
                        + "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                hash(ticket), principal.userId(), principal.email() == null ? "" : principal.email(),
                principal.tokenId(), principal.familyId(), principal.expiresAt(), now, expiresAt);
        return new Issued(ticket, expiresAt);
    }

    /**
     * Spends a ticket: the principal it was issued for, once.
     *
     * @throws ProtocolException {@code invalid_token} when the ticket is unknown, used or expired
     */
    public Principal redeem(String ticket) {
        if (ticket == null || ticket.isBlank() || ticket.length() > 256) {
            throw invalid();
        }
        String hash = hash(ticket);
        Instant now = clock.instant();
        int spent = sql.update("UPDATE socket_tickets SET used_at = ? WHERE ticket_hash = ? AND used_at IS NULL "
                + "AND expires_at > ? AND EXISTS (SELECT 1 FROM token_families f "
                + "WHERE f.id = socket_tickets.family_id AND f.revoked_at IS NULL)", now, hash, now);
        if (spent == 0) {
            throw invalid();
        }
        Optional<Principal> principal = sql.queryOne("SELECT user_id, email, token_id, family_id, token_expires_at "
                        + "FROM socket_tickets WHERE ticket_hash = ?",
                row -> new Principal(row.getString("user_id"), row.getString("email"), row.getString("token_id"),
                        row.getString("family_id"), Sql.instant(row, "token_expires_at")), hash);
        return principal.orElseThrow(SocketTickets::invalid);
    }

    /** Deletes the tickets issued with tokens of a revoked family. */
    public int forgetFamily(String familyId) {
        return sql.update("DELETE FROM socket_tickets WHERE family_id = ?", familyId);
    }

    /** Deletes tickets that expired before {@code before}. */
    public int purgeExpired(Instant before) {
        return sql.update("DELETE FROM socket_tickets WHERE expires_at < ?", before);
    }

    private static ProtocolException invalid() {
        return new ProtocolException(ErrorCode.INVALID_TOKEN,
                "The ticket is unknown, expired or already used; ask for a new one.");
    }

    static String hash(String ticket) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(ticket.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
