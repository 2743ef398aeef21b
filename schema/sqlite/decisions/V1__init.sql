-- The decision log's own database (decisions.db, beside lanyard.db, so that its writes
-- share no page cache, WAL or lock with the mints). One row per batch the writer commits,
-- not per entry, so a mint adds no record and no index entry of its own. Entries are JSON
-- lines in `body`; a token's entry is found among the batches whose time span covers its
-- `iat`. Released migrations are never edited.

CREATE TABLE policy_decision_batches (
    id       INTEGER PRIMARY KEY,
    first_at INTEGER NOT NULL,           -- the oldest entry's time
    last_at  INTEGER NOT NULL,           -- the newest entry's time
    entries  INTEGER NOT NULL,           -- lines in body
    body     TEXT NOT NULL               -- one JSON object per line: jti, at, client_id, sub,
                                         -- resource, grant_type, outcome, runs (JSON text)
);
CREATE INDEX policy_decision_batches_by_time ON policy_decision_batches (last_at);
