-- A spent refresh token keeps its successor, sealed under a key only the spent token
-- opens, for the grace window: a second presentation within it gets the same successor
-- back instead of forking the family.
ALTER TABLE refresh_tokens ADD COLUMN sealed_successor BYTEA;
-- Only the few tokens that still hold a seal (those spent in the last minute or so) are
-- indexed, so the maintenance sweep that drops spent seals reads only those.
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (spent_at)
    WHERE sealed_successor IS NOT NULL;

DROP FUNCTION lanyard_rotate_refresh(TEXT, TEXT, BIGINT, BIGINT);

-- One refresh-token presentation, atomically: the presented token's row is locked, so two
-- instances presenting it at once take turns. A current token is spent (keeping its sealed
-- successor, which the maintenance sweep drops once the window is over) and its successor
-- made current; one spent within the grace window hands back its sealed successor and changes
-- nothing; one spent before it revokes the family.
CREATE FUNCTION lanyard_rotate_refresh(
    presented TEXT, successor TEXT, sealed BYTEA, now BIGINT, grace BIGINT
)
RETURNS TABLE (
    outcome TEXT, id TEXT, client_id TEXT, sub TEXT, resource TEXT, scopes TEXT[],
    auth_time BIGINT, created_at BIGINT, expires_at BIGINT, revoked_at BIGINT, kept BYTEA
)
LANGUAGE plpgsql AS $$
DECLARE
    g grants%ROWTYPE;
    family TEXT;
    spent BIGINT;
    was_sealed BYTEA;
BEGIN
    SELECT t.grant_id, t.spent_at, t.sealed_successor INTO family, spent, was_sealed
        FROM refresh_tokens t WHERE t.hash = presented FOR UPDATE;
    IF FOUND THEN
        SELECT * INTO g FROM grants WHERE grants.id = family;
    END IF;
    IF family IS NULL OR g.revoked_at IS NOT NULL OR g.expires_at <= now THEN
        RETURN QUERY SELECT 'invalid', NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TEXT[], NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BYTEA;
        RETURN;
    END IF;
    IF spent IS NULL THEN
        UPDATE refresh_tokens t SET spent_at = now, sealed_successor = sealed
            WHERE t.hash = presented;
        INSERT INTO refresh_tokens (hash, grant_id, issued_at) VALUES (successor, g.id, now);
        outcome := 'rotated';
        was_sealed := NULL;
    ELSIF now - spent < grace THEN
        outcome := 'raced';
    ELSE
        UPDATE grants SET revoked_at = now WHERE grants.id = g.id AND grants.revoked_at IS NULL;
        outcome := 'reused';
        was_sealed := NULL;
    END IF;
    RETURN QUERY SELECT outcome, g.id, g.client_id, g.sub, g.resource, g.scopes,
        g.auth_time, g.created_at, g.expires_at, g.revoked_at, was_sealed;
END
$$;
