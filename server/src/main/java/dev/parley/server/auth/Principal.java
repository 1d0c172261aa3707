package dev.parley.server.auth;

import java.time.Instant;

/**
 * Who a verified access token speaks for: the user, the token's own id, the login (token family) it belongs to, and
 * when it expires. Sockets keep it to close themselves at expiry or on revocation of the family.
 */
public record Principal(String userId, String email, String tokenId, String familyId, Instant expiresAt) {
}
