-- The decision log's own database (decisions.db, beside lanyard.db). One row per batch the
-- writer commits: a row per entry cost a record and an index entry per mint, and sharing
-- lanyard.db's page cache and WAL slowed the mints themselves. Entries are JSON lines in
-- `body`; a token's entry is found among the batches whose time span covers its `iat`.

CREATE TABLE policy_decision_batches (
    id       INTEGER PRIMARY KEY,
    first_at INTEGER NOT NULL,           -- the oldest entry's time
    last_at  INTEGER NOT NULL,           -- the newest entry's time
    entries  INTEGER NOT NULL,           -- lines in body
    body     TEXT NOT NULL               -- one JSON object per line: jti, at, client_id, sub,
                                         -- resource, grant_type, outcome, runs (JSON text)
);
CREATE INDEX policy_decision_batches_by_time ON policy_decision_batches (last_at);
