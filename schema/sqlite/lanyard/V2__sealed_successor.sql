-- A spent refresh token keeps its successor, sealed under a key only the spent token
-- opens, for the grace window: a second presentation within it gets the same successor
-- back instead of forking the family.
ALTER TABLE refresh_tokens ADD COLUMN sealed_successor BLOB;
-- Only the few tokens that still hold a seal (at most the last one or two of a family) are
-- indexed, so that dropping spent seals never walks a family's history.
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (grant_id, spent_at)
    WHERE sealed_successor IS NOT NULL;
