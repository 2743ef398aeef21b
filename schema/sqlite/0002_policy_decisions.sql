-- The decision log: for every mint that ran policies, which versions ran and what they
-- decided, keyed by the access token's jti.

CREATE TABLE policy_decisions (
    jti        TEXT PRIMARY KEY,
    at         INTEGER NOT NULL,
    client_id  TEXT NOT NULL,
    sub        TEXT NOT NULL,
    resource   TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    outcome    TEXT NOT NULL,            -- allow | deny | failed
    runs       TEXT NOT NULL             -- JSON array of {policy, digest, outcome, micros, detail}
);
CREATE INDEX policy_decisions_by_time ON policy_decisions (at);

-- Operator-created accounts count as having a verified email; self-registered ones do not
-- (Lanyard sends no mail). Policies that trust an email domain must check this.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
