-- Written for both PostgreSQL and H2 in PostgreSQL mode: keep to the SQL both accept.

-- Each user's own credential for an MCP server whose auth mode is user_secret, encrypted (AES-GCM, with the user and
-- the server as associated data) under PARLEY_MCP_CREDENTIALS_KEY; never stored or returned in the clear.
CREATE TABLE mcp_credentials (
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    server_id  VARCHAR(32) NOT NULL,
    sealed     TEXT        NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (user_id, server_id)
);
