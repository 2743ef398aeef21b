-- Second factors (TOTP) and the way each grant's sign-in was made (RFC 8176 `amr`).

-- A user's TOTP secret, sealed (AES-256-GCM) under the operator's encryption key and bound
-- to the user. Unconfirmed (confirmed_at NULL) until the first code; last_step is the last
-- time step a code was accepted for, so a code works once even within its window.
CREATE TABLE totp_factors (
    sub           TEXT PRIMARY KEY REFERENCES users (sub) ON DELETE CASCADE,
    sealed_secret BYTEA NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT,
    created_at    BIGINT NOT NULL
);

-- Single-use recovery codes, by SHA-256 only (80 random bits each: no slow hash needed).
CREATE TABLE recovery_codes (
    sub  TEXT NOT NULL REFERENCES users (sub) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    PRIMARY KEY (sub, hash)
);

-- Grants made before sign-in methods were kept were all password sign-ins.
ALTER TABLE grants ADD COLUMN amr TEXT[] NOT NULL DEFAULT '{pwd}';
