-- Passkeys (WebAuthn credentials). The id is the credential id (unpadded base64url), unique
-- across every account; credential is the verifier's record (public key, signature counter,
-- backup flags) as JSON.
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    sub          TEXT NOT NULL REFERENCES users(sub) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    credential   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);

CREATE INDEX passkeys_by_sub ON passkeys (sub, created_at);
