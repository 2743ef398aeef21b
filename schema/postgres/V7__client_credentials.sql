-- A client-credentials mint is for no user: its decision-log entry names only the client.
-- Released migrations are never edited.
ALTER TABLE policy_decisions ALTER COLUMN sub DROP NOT NULL;
