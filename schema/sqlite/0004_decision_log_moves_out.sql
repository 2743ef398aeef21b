-- The decision log moves to a database of its own (decisions/0001_batches.sql). Entries
-- already written wait here, one single-entry batch each, until the store next opens and
-- hands them to decisions.db, dropping this table.

CREATE TABLE policy_decisions_to_move (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    body     TEXT NOT NULL
);

INSERT INTO policy_decisions_to_move (at, body)
    SELECT at,
           json_object('jti', jti, 'at', at, 'client_id', client_id, 'sub', sub,
                       'resource', resource, 'grant_type', grant_type, 'outcome', outcome,
                       'runs', runs)
    FROM policy_decisions ORDER BY id;

DROP TABLE policy_decisions;
