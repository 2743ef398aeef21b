//! Storage, in the domain's words, split by how long the data lives (design.md "Storage
//! split"). Callers see [`StoreError`] and records; driver errors stay in the backends.
//!
//! Durable data (users, clients, consents, grants, signing keys, the decision log, the
//! audit log, policy versions) sits behind one trait per concept. Short-lived data (codes, sessions, pending
//! requests, revocations) sits behind [`EphemeralStore`], a key-value store with expiry and
//! atomic take, which [`Ephemeral`] wraps in typed, domain-named operations; rate-limit
//! counters, change notices and the mail queue have traits of their own (`counters`,
//! `notices`, `mail`).
//!
//! Backends: `embedded` (SQLite, counters and notices in process) for one machine;
//! `postgres` for durable data and `redis` for the rest when several instances share them.

#[cfg(test)]
mod conformance;
pub mod counters;
pub mod embedded;
mod ephemeral;
pub mod health;
pub mod mail;
pub mod notices;
pub mod postgres;
pub mod records;
pub mod redis;
pub mod tls;

pub use ephemeral::{Ephemeral, RevocationKey};
pub use health::Health;

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::UnixTime;
use crate::secret::SecretHash;
pub use mail::MailQueue;
pub use records::*;

/// The cause of a failure, kept for logs: a driver's error, or a sentence.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// All a caller learns of a storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (an email already registered, say).
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    /// The backend could not be reached or failed; worth trying again later.
    #[error("store unavailable")]
    Unavailable(#[source] Cause),
    /// A stored value does not read as what the code expects (a column of another type, an
    /// unknown state): the schema and the code disagree, and trying again will not help.
    #[error("stored data unreadable")]
    Corrupt(#[source] Cause),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A setting the store cannot use, named for the operator, with why.
#[derive(Debug, thiserror::Error)]
#[error("{key}")]
pub struct BadSetting {
    pub key: &'static str,
    #[source]
    pub cause: Cause,
}

impl BadSetting {
    pub fn error(key: &'static str, cause: impl Into<Cause>) -> StoreError {
        StoreError::Unavailable(Box::new(Self {
            key,
            cause: cause.into(),
        }))
    }
}

/// One line for the migrations a start applied to `database`, none when its schema was
/// current.
fn log_applied(report: &refinery::Report, database: &str) {
    let applied: Vec<String> = report
        .applied_migrations()
        .iter()
        .map(ToString::to_string)
        .collect();
    if !applied.is_empty() {
        tracing::info!(database, ?applied, "migrations applied");
    }
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Conflict` when the (case-folded) email is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn user_by_sub(&self, sub: &UserId) -> StoreResult<Option<User>>;
    /// Up to `limit` users whose `sub` sorts after `after` (all from the start with `None`),
    /// in `sub` order: cursor pagination. The order is the bytes' order on every backend,
    /// whatever the database's collation, so a cursor means the same everywhere.
    async fn users(&self, after: Option<&UserId>, limit: u32) -> StoreResult<Vec<User>>;
    /// Replaces the metadata. With `expected`, only if the stored metadata is still that
    /// text as this store returned it in `User::metadata` (JSON-equal on Postgres, where it
    /// is JSONB); returns false when it is not (someone wrote in between). `NotFound` when
    /// there is no such user.
    async fn set_metadata(
        &self,
        sub: &UserId,
        metadata: &serde_json::Value,
        expected: Option<&str>,
    ) -> StoreResult<bool>;
    /// Replaces the password hash (argon2id PHC string); `NotFound` when there is no such user.
    async fn set_password(&self, sub: &UserId, password_hash: &str) -> StoreResult<()>;
    /// Removes the user with their metadata, consents, grants and refresh tokens, in one
    /// step; the email is free again. Returns the ids of the grants that were live at some
    /// point after `since` (see [`GrantStore::revoke_app`]); `NotFound` when there is no
    /// such user.
    async fn delete_user(&self, sub: &UserId, since: UnixTime) -> StoreResult<Vec<String>>;
    /// Marks the address as the user's own (a mailed link was followed, or an operator
    /// vouched). `NotFound` for an unknown user, as every setter below.
    async fn set_email_verified(&self, sub: &UserId) -> StoreResult<()>;
    /// Disables the account from `since`, or enables it again with `None`. Disabling also
    /// starts a new session epoch, in the same write: the sessions it ends stay ended once
    /// the account is enabled again.
    async fn set_disabled(&self, sub: &UserId, since: Option<UnixTime>) -> StoreResult<()>;
    /// A password reset through a link mailed to the address, in one write: the new hash,
    /// the address verified (the link proved it), and a new session epoch.
    async fn reset_password(&self, sub: &UserId, hash: &str) -> StoreResult<()>;
    /// Starts a new session epoch, which ends every browser session of the account at once
    /// (each records the epoch it began in).
    async fn end_sessions(&self, sub: &UserId) -> StoreResult<()>;
    /// Moves the account to `email`, which the link mailed there proved, so it is verified
    /// too; `Conflict` when another account has it (emails stay unique).
    async fn change_email(&self, sub: &UserId, email: &Email) -> StoreResult<()>;
}

/// Second factors: a user's TOTP secret (sealed) and its recovery codes (hashed). Every
/// check that makes a code single-use is one atomic statement, so that two instances
/// presented the same code accept it once.
#[async_trait]
pub trait SecondFactors: Send + Sync {
    /// The user's TOTP factor, confirmed or still waiting for its first code.
    async fn totp(&self, sub: &UserId) -> StoreResult<Option<TotpFactor>>;
    /// Keeps a new secret waiting for its first code, in place of any other waiting one;
    /// `Conflict` when the user already has a confirmed factor.
    async fn begin_totp(
        &self,
        sub: &UserId,
        sealed_secret: &[u8],
        now: UnixTime,
    ) -> StoreResult<()>;
    /// Confirms the waiting secret, its first code's time step spent, and replaces the
    /// recovery codes with `recovery`, all at once. False when no secret was waiting.
    async fn confirm_totp(
        &self,
        sub: &UserId,
        step: i64,
        recovery: &[SecretHash],
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// Spends `step` if it is later than the last step a code was accepted for (and the
    /// factor is confirmed); false otherwise: a code works once, even within its window.
    async fn spend_totp_step(&self, sub: &UserId, step: i64) -> StoreResult<bool>;
    /// Spends a recovery code; false when it is not one of the user's unspent codes.
    async fn spend_recovery_code(&self, sub: &UserId, code: &SecretHash) -> StoreResult<bool>;
    async fn recovery_codes_left(&self, sub: &UserId) -> StoreResult<u32>;
    /// Removes the factor and its recovery codes; false when there was none.
    async fn remove_totp(&self, sub: &UserId) -> StoreResult<bool>;
}

/// Passkeys (WebAuthn credentials), each owned by one user. A credential id names one
/// passkey across every account: a second registration of the same id is a `Conflict`.
#[async_trait]
pub trait Passkeys: Send + Sync {
    /// Keeps a new passkey; `Conflict` when its id is already registered (to anyone).
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()>;
    /// The user's passkeys, oldest first.
    async fn passkeys(&self, sub: &UserId) -> StoreResult<Vec<StoredPasskey>>;
    /// The passkey with this id, whoever owns it (a passwordless sign-in learns the account
    /// from the passkey).
    async fn passkey(&self, id: &PasskeyId) -> StoreResult<Option<StoredPasskey>>;
    /// Keeps the verifier's record after a sign-in with the passkey (its signature counter
    /// moves on) and when it was used; false when the passkey is gone.
    async fn passkey_used(
        &self,
        id: &PasskeyId,
        credential: &str,
        now: UnixTime,
    ) -> StoreResult<bool>;
    /// Removes one of the user's passkeys; false when the user has none with this id.
    async fn remove_passkey(&self, sub: &UserId, id: &PasskeyId) -> StoreResult<bool>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    async fn clients(&self) -> StoreResult<Vec<Client>>;
    /// Removes the client and everything granted to it.
    async fn remove_client(&self, id: &ClientId) -> StoreResult<bool>;
    /// Replaces every stored field of the client `client.id` names except `source` and
    /// `created_at` (secret hash, name, redirect URIs, grant types, auth method, scope,
    /// metadata); false when there is no such client.
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    /// Removes up to `limit` dynamically registered clients made before `before` that hold
    /// no live grant (none, or all expired or revoked), with their consents and dead
    /// grants; returns how many went. Clients that register on every connection leave
    /// thousands of these; one that comes back gets `invalid_client` and registers again.
    async fn purge_idle_clients(
        &self,
        before: UnixTime,
        now: UnixTime,
        limit: u32,
    ) -> StoreResult<u64>;
}

/// Consents and grants: what a user allowed, and the refresh-token families it produced.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// The scopes the user already allowed this client for this resource.
    async fn consent(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        resource: &ResourceUri,
    ) -> StoreResult<Option<ScopeSet>>;
    /// Records a consent, widening any earlier one to the union.
    async fn record_consent(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        resource: &ResourceUri,
        scopes: &ScopeSet,
        now: UnixTime,
    ) -> StoreResult<()>;

    /// Everything `sub` allowed, oldest first, each with when it was last used.
    async fn consents(&self, sub: &UserId) -> StoreResult<Vec<Consent>>;
    /// Withdraws every consent `sub` gave `client_id` and revokes every live grant
    /// (refresh-token family) between them, in one step. Returns the ids of those grants that were live
    /// at some point after `since` (not revoked or expired by then), whose access tokens
    /// may still be unexpired; grants revoked by an earlier call count too, so a retry
    /// after a failure finds them again.
    async fn revoke_app(
        &self,
        sub: &UserId,
        client_id: &ClientId,
        now: UnixTime,
        since: UnixTime,
    ) -> StoreResult<Vec<String>>;

    /// Creates a grant (a refresh-token family) with its first refresh token, if any.
    async fn create_grant(&self, grant: &Grant, refresh: Option<&SecretHash>) -> StoreResult<()>;
    async fn grant(&self, id: &str) -> StoreResult<Option<Grant>>;
    /// Rotates a refresh token in one atomic step (see [`Rotation`]). `sealed` is the
    /// successor itself, sealed so that only the presented token opens it; it is kept with
    /// the spent token for the grace window.
    async fn rotate_refresh(
        &self,
        presented: &SecretHash,
        successor: &SecretHash,
        sealed: &[u8],
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<Rotation>;
    /// The live grant a refresh token belongs to. A spent token counts only with
    /// `include_spent` (a refresh must see it, to tell a race from a replay).
    async fn grant_by_refresh(
        &self,
        token: &SecretHash,
        now: UnixTime,
        include_spent: bool,
    ) -> StoreResult<Option<Grant>>;
    /// Revokes the whole family; returns whether it was live.
    async fn revoke_grant(&self, id: &str, now: UnixTime) -> StoreResult<bool>;
    /// Revokes every live family of a user; returns their ids (their access tokens are
    /// the caller's to refuse).
    async fn revoke_user_grants(&self, sub: &UserId, now: UnixTime) -> StoreResult<Vec<String>>;
    /// Drops the sealed successors of tokens spent before `before` (the grace window is
    /// over for them); returns how many.
    async fn drop_seals(&self, before: UnixTime) -> StoreResult<u64>;
}

/// The outcome of presenting a refresh token.
#[derive(Debug)]
pub enum Rotation {
    /// The token was current: it is now spent and `successor` is current.
    Rotated(Grant),
    /// The token was spent moments ago (within the grace window): a racing refresh from
    /// the same client. Nothing changes: the sealed successor of the first presentation is
    /// handed back, so the family keeps one current token (`None` if it was not kept).
    Raced(Grant, Option<Vec<u8>>),
    /// The token was spent before the grace window: a replay. The family is revoked.
    Reused(Grant),
    /// Unknown token, or its family is revoked or expired.
    Invalid,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Inserts a key as `next` when none is published yet (first start).
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// Atomically: current -> retired, next -> current, `new_next` -> next.
    async fn rotate_keys(&self, new_next: &StoredKey, now: UnixTime) -> StoreResult<()>;
    /// Deletes retired keys retired before `before`.
    async fn prune_keys(&self, before: UnixTime) -> StoreResult<u64>;
}

/// A key-value store with expiry and atomic take: all short-lived state.
#[async_trait]
pub trait EphemeralStore: Send + Sync {
    async fn put(&self, key: &str, value: &[u8], expires_at: UnixTime) -> StoreResult<()>;
    async fn get(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>>;
    /// Removes and returns the value atomically: whatever is taken is taken once.
    async fn take(&self, key: &str, now: UnixTime) -> StoreResult<Option<Vec<u8>>>;
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// Whether any of `keys` is present (revocation checks look up a token and its grant).
    async fn any_present(&self, keys: &[String], now: UnixTime) -> StoreResult<bool>;
    /// Drops what has expired; backends with native expiry do nothing.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// The policy decision log.
#[async_trait]
pub trait DecisionLog: Send + Sync {
    /// Writes a batch in one transaction (the log is written off the request path). A
    /// backend may keep the batch as one record: it is kept and purged as a whole.
    async fn record_decisions(&self, entries: &[DecisionEntry]) -> StoreResult<()>;
    /// The most recent entries, newest first.
    async fn recent_decisions(&self, limit: u32) -> StoreResult<Vec<DecisionEntry>>;
    /// The entry for a token: its jti, and its `iat` to find it by time. Without `iat` the
    /// whole log is searched.
    async fn decision(
        &self,
        jti: &str,
        iat: Option<UnixTime>,
    ) -> StoreResult<Option<DecisionEntry>>;
    /// The entries for `sub`'s tokens minted at `from..=to`, newest first, at most `limit`.
    async fn user_decisions(
        &self,
        sub: &UserId,
        from: UnixTime,
        to: UnixTime,
        limit: u32,
    ) -> StoreResult<Vec<DecisionEntry>>;
    /// Drops entries older than `before`, oldest first, about `limit` at a time; returns how
    /// many went, 0 once none is left to drop. The embedded store keeps entries in batches
    /// and drops whole ones (at least one): an entry outlives `before` while its batch holds
    /// a newer one, by the batch's span, milliseconds.
    async fn purge_decisions(&self, before: UnixTime, limit: u32) -> StoreResult<u64>;
}

/// The audit log: every admin change, API or CLI, appended; never changed afterwards.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends the entry; returns the id it got.
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<i64>;
    /// Entries with an id below `before` (from the newest with `None`), newest first, at
    /// most `limit`: cursor pagination.
    async fn audit_entries(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}

/// Policy versions shared by several instances: immutable modules by digest, and the
/// version each policy name runs (the one activated last).
#[async_trait]
pub trait PolicyVersions: Send + Sync {
    /// Keeps the module (once per digest) and makes it `name`'s active version.
    async fn activate_policy(
        &self,
        name: &str,
        digest: &str,
        bytes: &[u8],
        now: UnixTime,
    ) -> StoreResult<()>;
    /// The active version's digest (checked often, so without the module's bytes).
    async fn active_policy(&self, name: &str) -> StoreResult<Option<String>>;
    /// `name`'s activations, newest first: (digest, when).
    async fn policy_history(&self, name: &str) -> StoreResult<Vec<(String, UnixTime)>>;
    /// A module kept under `digest`.
    async fn policy_module(&self, digest: &str) -> StoreResult<Option<Vec<u8>>>;
}

/// The backends the server runs on, chosen once at start-up.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub factors: Arc<dyn SecondFactors>,
    pub passkeys: Arc<dyn Passkeys>,
    pub clients: Arc<dyn ClientStore>,
    pub grants: Arc<dyn GrantStore>,
    pub keys: Arc<dyn KeyStore>,
    pub decisions: Arc<dyn DecisionLog>,
    pub audit: Arc<dyn AuditLog>,
    pub mail: Arc<dyn MailQueue>,
    pub ephemeral: Ephemeral,
    pub counters: Arc<dyn counters::Counters>,
    pub notices: Arc<dyn notices::Notices>,
    /// Shared policy versions; `None` on the embedded store, where the policy files are
    /// the versions (the server watches them).
    pub policies: Option<Arc<dyn PolicyVersions>>,
    /// Every backend, for health probes.
    pub health: Vec<Arc<dyn Health>>,
}
