-- The account page lists the apps a user allowed: since when (the first consent, which
-- a widening keeps), and, from the grants, when each was last used. Consents from before
-- this column count from their last change.
ALTER TABLE consents ADD COLUMN granted_at INTEGER NOT NULL DEFAULT 0;
UPDATE consents SET granted_at = updated_at;
-- A user's grants, by app: the page's last-used times, revoking one app's families, and
-- the cascade when an account is deleted.
CREATE INDEX grants_by_user ON grants (sub, client_id);
