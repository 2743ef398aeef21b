-- Lanyard on Postgres: the durable half of the storage split (design.md).
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

-- Refresh-token rotation in one round trip. The same steps as five statements in a
-- transaction (lock the presented token, judge it, spend it or revoke the family, record
-- the successor), run inside the database, so a mint waits for one reply, not five.
-- Outcomes: 'rotated', 'raced' (spent within the grace window: the successor is recorded
-- too), 'reused' (spent earlier: the family is revoked) and 'invalid' (unknown token, or a
-- revoked or expired family). The grant's row is returned as it was when judged.

CREATE FUNCTION lanyard_rotate_refresh(presented TEXT, successor TEXT, now BIGINT, grace BIGINT)
RETURNS TABLE (
    outcome TEXT, id TEXT, client_id TEXT, sub TEXT, resource TEXT, scopes TEXT[],
    auth_time BIGINT, created_at BIGINT, expires_at BIGINT, revoked_at BIGINT
)
LANGUAGE plpgsql AS $$
DECLARE
    g grants%ROWTYPE;
    family TEXT;
    spent BIGINT;
BEGIN
    SELECT t.grant_id, t.spent_at INTO family, spent
        FROM refresh_tokens t WHERE t.hash = presented FOR UPDATE;
    IF FOUND THEN
        SELECT * INTO g FROM grants WHERE grants.id = family;
    END IF;
    IF family IS NULL OR g.revoked_at IS NOT NULL OR g.expires_at <= now THEN
        RETURN QUERY SELECT 'invalid', NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TEXT[], NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT;
        RETURN;
    END IF;
    IF spent IS NULL THEN
        UPDATE refresh_tokens SET spent_at = now WHERE hash = presented;
        outcome := 'rotated';
    ELSIF now - spent < grace THEN
        outcome := 'raced';
    ELSE
        UPDATE grants SET revoked_at = now WHERE grants.id = g.id AND grants.revoked_at IS NULL;
        outcome := 'reused';
    END IF;
    IF outcome <> 'reused' THEN
        INSERT INTO refresh_tokens (hash, grant_id, issued_at) VALUES (successor, g.id, now);
    END IF;
    RETURN QUERY SELECT outcome, g.id, g.client_id, g.sub, g.resource, g.scopes,
        g.auth_time, g.created_at, g.expires_at, g.revoked_at;
END
$$;

-- Policy versions for several instances: modules are immutable and named by their sha256;
-- each policy name runs the version activated last. Activations are appended, never
-- edited, so the history of what ran when is kept, and a rollback is one more activation
-- (of the version before).

CREATE TABLE policy_modules (
    digest     TEXT PRIMARY KEY,             -- sha256 of bytes, hex
    bytes      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE policy_activations (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    digest       TEXT NOT NULL REFERENCES policy_modules (digest),
    activated_at BIGINT NOT NULL
);
CREATE INDEX policy_activations_by_name ON policy_activations (name, id DESC);
