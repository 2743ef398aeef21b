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
