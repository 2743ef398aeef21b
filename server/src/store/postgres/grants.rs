//! [`GrantStore`] on Postgres: consents, grants and their refresh-token families.

use super::*;

macro_rules! grant_cols {
    () => {
        "g.id, g.client_id, g.sub, g.resource, g.scopes, g.auth_time, g.created_at, g.expires_at, g.revoked_at, g.amr"
    };
}

fn grant_row(r: &Row) -> StoreResult<Grant> {
    grant_at(r, 0)
}

/// A grant in the columns of `grant_cols`, from column `at` on.
fn grant_at(r: &Row, at: usize) -> StoreResult<Grant> {
    Ok(Grant {
        id: col(r, at)?,
        client_id: col(r, at + 1)?,
        sub: col(r, at + 2)?,
        resource: col(r, at + 3)?,
        scopes: col(r, at + 4)?,
        auth_time: col(r, at + 5)?,
        created_at: col(r, at + 6)?,
        expires_at: col(r, at + 7)?,
        revoked_at: col(r, at + 8)?,
        amr: col(r, at + 9)?,
    })
}

/// What `lanyard_rotate_refresh` decided, read strictly: a value this code does not know
/// means the function and the code disagree, and no rotation is guessed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Rotated,
    Raced,
    Reused,
    Invalid,
}

impl FromStr for Outcome {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "rotated" => Ok(Self::Rotated),
            "raced" => Ok(Self::Raced),
            "reused" => Ok(Self::Reused),
            "invalid" => Ok(Self::Invalid),
            _ => Err(UnknownValue::new("rotation outcome", s)),
        }
    }
}

const GRANT_BY_REFRESH: &str = select!(
    grant_cols,
    "FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id \
     WHERE t.hash = $1 AND ($3 OR t.spent_at IS NULL) AND g.revoked_at IS NULL AND g.expires_at > $2"
);

/// A user's consents with the last mint of each: the newest grant made (a code exchange)
/// or refresh token issued (a refresh) for the same client and resource.
const CONSENTS: &str = "SELECT c.client_id, c.resource, c.scopes, c.granted_at, \
     (SELECT max(greatest(g.created_at, (SELECT max(t.issued_at) FROM refresh_tokens t \
     WHERE t.grant_id = g.id))) FROM grants g \
     WHERE g.sub = c.sub AND g.client_id = c.client_id AND g.resource = c.resource) \
     FROM consents c WHERE c.sub = $1 ORDER BY c.granted_at, c.client_id, c.resource";

/// The grants of a user (and a client, unless `$2` is null) that were live after `$3`:
/// neither revoked nor expired by then (`least` passes over a null `revoked_at`).
pub(super) const LIVE_SINCE: &str = "SELECT id FROM grants WHERE sub = $1 \
     AND ($2::TEXT IS NULL OR client_id = $2) AND least(revoked_at, expires_at) > $3";

#[async_trait]
impl GrantStore for Postgres {
    async fn consent(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> StoreResult<Option<ScopeSet>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            "SELECT scopes FROM consents WHERE sub = $1 AND client_id = $2 AND resource = $3",
            &[&sub, &client_id, &resource],
        )
        .await?;
        row.as_ref().map(|r| col(r, 0)).transpose()
    }

    async fn record_consent(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        resource: &ResourceUri,
        scopes: &ScopeSet,
        now: UnixTime,
    ) -> StoreResult<()> {
        // The union is taken in the statement, so two consents recorded at once by two
        // instances both survive. Order is kept: earlier scopes first, then new ones.
        run(
            &self.client().await?,
            "INSERT INTO consents (sub, client_id, resource, scopes, updated_at, granted_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (sub, client_id, resource) DO UPDATE SET \
             scopes = consents.scopes || ARRAY(SELECT s FROM unnest(excluded.scopes) WITH ORDINALITY AS u(s, i) \
             WHERE s <> ALL (consents.scopes) ORDER BY i), \
             updated_at = excluded.updated_at",
            &[&sub, &client_id, &resource, &scopes, &now],
        )
        .await?;
        Ok(())
    }

    async fn consents(&self, sub: &UserId) -> StoreResult<Vec<Consent>> {
        let rows = all(&self.client().await?, CONSENTS, &[&sub]).await?;
        rows.iter()
            .map(|r| {
                Ok(Consent {
                    client_id: col(r, 0)?,
                    resource: col(r, 1)?,
                    scopes: col(r, 2)?,
                    granted_at: col(r, 3)?,
                    last_used: col(r, 4)?,
                })
            })
            .collect()
    }

    async fn revoke_app(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        now: UnixTime,
        since: UnixTime,
    ) -> StoreResult<Vec<String>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let ids = all(&tx, LIVE_SINCE, &[&sub, &Some(client_id), &since]).await?;
        run(
            &tx,
            "DELETE FROM consents WHERE sub = $1 AND client_id = $2",
            &[&sub, &client_id],
        )
        .await?;
        // Every instance reads `revoked_at` at each refresh: the families stop everywhere
        // once this commits.
        run(
            &tx,
            "UPDATE grants SET revoked_at = $3 \
             WHERE sub = $1 AND client_id = $2 AND revoked_at IS NULL AND expires_at > $3",
            &[&sub, &client_id, &now],
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        ids.iter().map(|r| col(r, 0)).collect()
    }

    async fn create_grant(&self, g: &Grant, refresh: Option<&SecretHash>) -> StoreResult<()> {
        // The grant and its first refresh token in one statement: atomic, one round trip.
        run(
            &self.client().await?,
            "WITH g AS (INSERT INTO grants (id, client_id, sub, resource, scopes, auth_time, \
             created_at, expires_at, revoked_at, amr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $10) \
             RETURNING id, created_at) \
             INSERT INTO refresh_tokens (hash, grant_id, issued_at) \
             SELECT $9::TEXT, id, created_at FROM g WHERE $9::TEXT IS NOT NULL",
            &[
                &g.id,
                &g.client_id,
                &g.sub,
                &g.resource,
                &g.scopes,
                &g.auth_time,
                &g.created_at,
                &g.expires_at,
                &refresh.map(SecretHash::as_str),
                &g.amr,
            ],
        )
        .await?;
        Ok(())
    }

    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            select!(grant_cols, "FROM grants g WHERE g.id = $1"),
            &[&id],
        )
        .await?;
        row.as_ref().map(grant_row).transpose()
    }

    async fn rotate_refresh(
        &self,
        presented: &SecretHash,
        successor: &SecretHash,
        sealed: &[u8],
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<Rotation> {
        // One statement (`lanyard_rotate_refresh` in schema/postgres): atomic, and one round
        // trip.
        let c = self.client().await?;
        let Some(row) = opt(
            &c,
            // The grant's sign-in methods never change, so they are read beside the
            // function rather than added to what it returns.
            "SELECT r.outcome, r.id, r.client_id, r.sub, r.resource, r.scopes, r.auth_time, \
             r.created_at, r.expires_at, r.revoked_at, g.amr, r.kept \
             FROM lanyard_rotate_refresh($1, $2, $3, $4, $5) r LEFT JOIN grants g ON g.id = r.id",
            &[
                &presented.as_str(),
                &successor.as_str(),
                &sealed,
                &now,
                &grace,
            ],
        )
        .await?
        else {
            return Err(unavailable("lanyard_rotate_refresh returned no row"));
        };
        let outcome: Outcome = col::<&str>(&row, 0)?.parse().map_err(corrupt)?;
        Ok(match outcome {
            Outcome::Invalid => Rotation::Invalid,
            Outcome::Rotated => Rotation::Rotated(grant_at(&row, 1)?),
            Outcome::Raced => Rotation::Raced(grant_at(&row, 1)?, col(&row, 11)?),
            Outcome::Reused => Rotation::Reused(grant_at(&row, 1)?),
        })
    }

    async fn grant_by_refresh(
        &self,
        token: &SecretHash,
        now: UnixTime,
        include_spent: bool,
    ) -> StoreResult<Option<Grant>> {
        let c = self.client().await?;
        let row = opt(
            &c,
            GRANT_BY_REFRESH,
            &[&token.as_str(), &now, &include_spent],
        )
        .await?;
        row.as_ref().map(grant_row).transpose()
    }

    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        let n = run(
            &self.client().await?,
            "UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now],
        )
        .await?;
        Ok(n > 0)
    }

    async fn revoke_user_grants(&self, sub: &UserId, now: UnixTime) -> StoreResult<Vec<String>> {
        let rows = all(
            &self.client().await?,
            "UPDATE grants SET revoked_at = $2 WHERE sub = $1 AND revoked_at IS NULL RETURNING id",
            &[&sub, &now],
        )
        .await?;
        rows.iter().map(|r| col(r, 0)).collect()
    }

    async fn drop_seals(&self, before: UnixTime) -> StoreResult<u64> {
        run(
            &self.client().await?,
            "UPDATE refresh_tokens SET sealed_successor = NULL \
             WHERE sealed_successor IS NOT NULL AND spent_at <= $1",
            &[&before],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each outcome the function returns reads as itself; anything else is refused, not
    /// taken for a replay.
    #[test]
    fn rotation_outcomes_are_read_strictly() {
        for (text, outcome) in [
            ("rotated", Outcome::Rotated),
            ("raced", Outcome::Raced),
            ("reused", Outcome::Reused),
            ("invalid", Outcome::Invalid),
        ] {
            assert_eq!(text.parse::<Outcome>().unwrap(), outcome);
        }
        for unknown in ["", "Rotated", "revoked"] {
            assert!(unknown.parse::<Outcome>().is_err(), "{unknown}");
        }
    }
}
