-- The decision log, laid out for writing. Rows append in time order (an integer rowid),
-- and the only index is on time, which also grows at its end. The unique index on the
-- random jti that 0002 had dirtied pages all over the index on every batch and cost more
-- per mint than the policy call itself; an entry is found by its token's jti within the
-- token's `iat` second instead (`lanyard policy log --token`).

CREATE TABLE policy_decisions_appended (
    id         INTEGER PRIMARY KEY,
    jti        TEXT NOT NULL,
    at         INTEGER NOT NULL,
    client_id  TEXT NOT NULL,
    sub        TEXT NOT NULL,
    resource   TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    outcome    TEXT NOT NULL,            -- allow | deny | failed
    runs       TEXT NOT NULL             -- JSON array of {policy, digest, outcome, micros, detail}
);

INSERT INTO policy_decisions_appended (jti, at, client_id, sub, resource, grant_type, outcome, runs)
    SELECT jti, at, client_id, sub, resource, grant_type, outcome, runs
    FROM policy_decisions ORDER BY at, rowid;

DROP TABLE policy_decisions;
ALTER TABLE policy_decisions_appended RENAME TO policy_decisions;
CREATE INDEX policy_decisions_by_time ON policy_decisions (at);
