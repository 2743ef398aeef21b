-- The account page lists the apps a user allowed: since when (the first consent, which
-- a widening keeps), and, from the grants, when each was last used. Consents from before
-- this column count from their last change.
ALTER TABLE consents ADD COLUMN granted_at BIGINT;
UPDATE consents SET granted_at = updated_at;
ALTER TABLE consents ALTER COLUMN granted_at SET NOT NULL;
-- A user's grants, by app: the page's last-used times, revoking one app's families, and
-- the cascade when an account is deleted.
CREATE INDEX grants_by_user ON grants (sub, client_id);
