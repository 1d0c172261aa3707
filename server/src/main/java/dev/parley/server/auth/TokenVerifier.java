package dev.parley.server.auth;

import dev.parley.protocol.ProtocolException;

/** Verifies access tokens: signature, algorithm, issuer, audience, type, expiry and revocation. */
public interface TokenVerifier {
    /**
     * Returns the principal of a valid access token.
     *
     * @throws ProtocolException with {@code invalid_token}, {@code token_expired} or {@code token_revoked}
     */
    Principal verifyAccess(String token);
}
