-- The admin API (issue 18): the audit log, a user's decisions by time, and users listed a
-- page at a time. Released migrations are never edited.

-- Every admin change, API or CLI: appended, never changed. actor is `cli` or the client id
-- of the API client; detail is a JSON object's text (never secrets).
CREATE TABLE admin_audit (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    request_id TEXT,
    detail     TEXT
);

-- A user's decisions, newest first, within a time range.
CREATE INDEX policy_decisions_by_sub ON policy_decisions (sub, at);

-- Users are listed in the bytes' order of `sub` (as SQLite orders them), whatever the
-- database's collation: the primary key's index follows the collation, so it cannot serve.
CREATE INDEX users_by_sub_bytes ON users (sub COLLATE "C");
