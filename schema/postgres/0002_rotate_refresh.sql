-- Refresh-token rotation in one round trip. The same steps as five statements in a
-- transaction (lock the presented token, judge it, spend it or revoke the family, record
-- the successor), run inside the database, so a mint waits for one reply, not five.
-- Outcomes: 'rotated', 'raced' (spent within the grace window: the successor is recorded
-- too), 'reused' (spent earlier: the family is revoked) and 'invalid' (unknown token, or a
-- revoked or expired family). The grant's row is returned as it was when judged.

CREATE FUNCTION lanyard_rotate_refresh(presented TEXT, successor TEXT, now BIGINT, grace BIGINT)
RETURNS TABLE (
    outcome TEXT, id TEXT, client_id TEXT, sub TEXT, resource TEXT, scopes TEXT[],
    auth_time BIGINT, created_at BIGINT, expires_at BIGINT, revoked_at BIGINT
)
LANGUAGE plpgsql AS $$
DECLARE
    g grants%ROWTYPE;
    family TEXT;
    spent BIGINT;
BEGIN
    SELECT t.grant_id, t.spent_at INTO family, spent
        FROM refresh_tokens t WHERE t.hash = presented FOR UPDATE;
    IF FOUND THEN
        SELECT * INTO g FROM grants WHERE grants.id = family;
    END IF;
    IF family IS NULL OR g.revoked_at IS NOT NULL OR g.expires_at <= now THEN
        RETURN QUERY SELECT 'invalid', NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TEXT[], NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT;
        RETURN;
    END IF;
    IF spent IS NULL THEN
        UPDATE refresh_tokens SET spent_at = now WHERE hash = presented;
        outcome := 'rotated';
    ELSIF now - spent < grace THEN
        outcome := 'raced';
    ELSE
        UPDATE grants SET revoked_at = now WHERE grants.id = g.id AND grants.revoked_at IS NULL;
        outcome := 'reused';
    END IF;
    IF outcome <> 'reused' THEN
        INSERT INTO refresh_tokens (hash, grant_id, issued_at) VALUES (successor, g.id, now);
    END IF;
    RETURN QUERY SELECT outcome, g.id, g.client_id, g.sub, g.resource, g.scopes,
        g.auth_time, g.created_at, g.expires_at, g.revoked_at;
END
$$;
