-- A spent refresh token keeps its successor, sealed under a key only the spent token
-- opens, for the grace window: a second presentation within it gets the same successor
-- back instead of forking the family.
ALTER TABLE refresh_tokens ADD COLUMN sealed_successor BLOB;
-- Only the few tokens that still hold a seal (those spent in the last minute or so) are
-- indexed, so the maintenance sweep that drops spent seals reads only those.
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (spent_at)
    WHERE sealed_successor IS NOT NULL;
