-- Accounts people can keep: mail, verified addresses, recovery, disabled accounts.

-- An operator can disable an account: it cannot sign in and its refresh tokens stop
-- working until it is enabled again.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
-- Every browser session records the epoch it began in; bumping it ends them all at once.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;

CREATE INDEX grants_by_sub ON grants (sub) WHERE revoked_at IS NULL;

-- Mail waiting to be delivered: written on the request path, sent by a background worker.
-- `message` is the whole RFC 5322 message.
CREATE TABLE mail_outbox (
    id         TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    message    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,            -- due from then; a claim moves it past its lease
    last_error TEXT,
    failed_at  INTEGER                      -- given up on: kept for the operator to see
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_at) WHERE failed_at IS NULL;
