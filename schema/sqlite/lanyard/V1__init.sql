-- The embedded store's records (lanyard.db); the decision log has decisions.db to itself
-- (schema/sqlite/decisions). Times are Unix seconds. Released migrations are never edited.

CREATE TABLE users (
    sub            TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,     -- case-folded
    password_hash  TEXT NOT NULL,            -- argon2id PHC string
    metadata       TEXT NOT NULL DEFAULT '{}',
    -- Operator-created accounts count as having a verified email; self-registered ones do
    -- not (Lanyard sends no mail). Policies that trust an email domain must check this.
    email_verified INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    secret_hash   TEXT,
    name          TEXT,
    redirect_uris TEXT NOT NULL,             -- JSON array
    grant_types   TEXT NOT NULL,             -- JSON array
    auth_method   TEXT NOT NULL,
    scope         TEXT,
    metadata      TEXT NOT NULL,             -- RFC 7591 metadata as registered
    source        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- client_id has no foreign key: metadata-document clients (a URL as client_id) are never
-- stored in `clients`. Removing a client deletes its consents and grants explicitly.
CREATE TABLE consents (
    sub        TEXT NOT NULL REFERENCES users(sub) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    resource   TEXT NOT NULL,
    scopes     TEXT NOT NULL,                -- JSON array
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (sub, client_id, resource)
);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    sub        TEXT NOT NULL REFERENCES users(sub) ON DELETE CASCADE,
    resource   TEXT NOT NULL,
    scopes     TEXT NOT NULL,                -- JSON array
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX grants_by_client ON grants (client_id);

-- Refresh tokens, by hash only. A spent token stays (spent_at set) so that its reuse can
-- be told from a token that never existed.
CREATE TABLE refresh_tokens (
    hash      TEXT PRIMARY KEY,
    grant_id  TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    issued_at INTEGER NOT NULL,
    spent_at  INTEGER
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_der BLOB NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

-- Codes, sessions, pending requests, revocations: what Redis holds in production.
CREATE TABLE ephemeral (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ephemeral_by_expiry ON ephemeral (expires_at);
