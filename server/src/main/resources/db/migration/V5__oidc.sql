-- Sign-in with OpenID Connect providers. Written for both PostgreSQL and H2 in PostgreSQL mode.

-- A sign-in in progress, from GET /auth/login to its callback: single use, a few minutes at most. The row is found
-- by the SHA-256 of the state (the state itself travels through the browser and the provider, never stored);
-- browser_hash is the SHA-256 of the cookie that ties the sign-in to the browser that started it. The nonce and the
-- PKCE verifier are kept as they are: the callback needs them back.
CREATE TABLE oidc_logins (
    state_hash    VARCHAR(64)  PRIMARY KEY,
    provider      VARCHAR(32)  NOT NULL,
    browser_hash  VARCHAR(64)  NOT NULL,
    nonce         VARCHAR(128) NOT NULL,
    code_verifier VARCHAR(128) NOT NULL,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at       TIMESTAMP WITH TIME ZONE
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);

-- Which account a provider's user is: (issuer, subject) is the identity OpenID Connect guarantees to be stable.
CREATE TABLE oidc_identities (
    issuer        VARCHAR(255) NOT NULL,
    subject       VARCHAR(255) NOT NULL,
    user_id       VARCHAR(36)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      VARCHAR(32)  NOT NULL,
    email         VARCHAR(320),
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    last_login_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);

-- The one-time codes that the web page trades for a token pair (POST /auth/exchange), found by their SHA-256.
-- family_id is the sign-in the code opens; presenting a spent code again revokes it.
CREATE TABLE oidc_codes (
    code_hash  VARCHAR(64) PRIMARY KEY,
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  VARCHAR(36) NOT NULL,
    provider   VARCHAR(32) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at    TIMESTAMP WITH TIME ZONE
);
CREATE INDEX oidc_codes_expires ON oidc_codes (expires_at);
