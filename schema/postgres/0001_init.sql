-- Lanyard on Postgres, first schema: the durable half of the storage split (design.md).
-- Short-lived records (codes, sessions, pending requests, revocations) live in Redis.
-- Times are Unix seconds. Released migrations are never edited.

CREATE TABLE users (
    sub            TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,        -- case-folded
    password_hash  TEXT NOT NULL,               -- argon2id PHC string
    metadata       JSONB NOT NULL DEFAULT '{}',
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL
);

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    secret_hash   TEXT,
    name          TEXT,
    redirect_uris TEXT[] NOT NULL,
    grant_types   TEXT[] NOT NULL,
    auth_method   TEXT NOT NULL,
    scope         TEXT,
    metadata      JSONB NOT NULL,               -- RFC 7591 metadata as registered
    source        TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- client_id has no foreign key: metadata-document clients (a URL as client_id) are never
-- stored in `clients`. Removing a client deletes its consents and grants explicitly.
CREATE TABLE consents (
    sub        TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    resource   TEXT NOT NULL,
    scopes     TEXT[] NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (sub, client_id, resource)
);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    sub        TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    resource   TEXT NOT NULL,
    scopes     TEXT[] NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_by_client ON grants (client_id);

-- Refresh tokens, by hash only. A spent token stays (spent_at set) so that its reuse can
-- be told from a token that never existed.
CREATE TABLE refresh_tokens (
    hash      TEXT PRIMARY KEY,
    grant_id  TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    spent_at  BIGINT
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_der BYTEA NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
-- At most one current and one next key, whichever instance rotates.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state IN ('current', 'next');

-- The decision log: one row per mint that ran policies, appended in time order.
CREATE TABLE policy_decisions (
    id         BIGSERIAL PRIMARY KEY,
    jti        TEXT NOT NULL,
    at         BIGINT NOT NULL,
    client_id  TEXT NOT NULL,
    sub        TEXT NOT NULL,
    resource   TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    outcome    TEXT NOT NULL,                   -- allow | deny | failed
    runs       TEXT NOT NULL                    -- JSON array of {policy, digest, outcome, micros, detail}
);
CREATE INDEX policy_decisions_by_jti ON policy_decisions (jti);
CREATE INDEX policy_decisions_by_time ON policy_decisions (at);
