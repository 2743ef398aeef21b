-- A spent refresh token keeps its successor, sealed under a key only the spent token
-- opens, for the grace window: a second presentation within it gets the same successor
-- back instead of forking the family.
ALTER TABLE refresh_tokens ADD COLUMN sealed_successor BLOB;
