-- From V21__mcp_credentials.sql: each user's own credential for a user_secret MCP server, sealed with AES-GCM.
CREATE TABLE mcp_credentials (
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    server_id  VARCHAR(32) NOT NULL,
    sealed     VARCHAR     NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, server_id)
);
