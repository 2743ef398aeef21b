-- The admin API (issue 18): the audit log. Released migrations are never edited.

-- Every admin change, API or CLI: appended, never changed (rows are never deleted, so ids
-- only grow). actor is `cli` or the client id of the API client; detail is a JSON object's
-- text (never secrets).
CREATE TABLE admin_audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    request_id TEXT,
    detail     TEXT
);
