//! Short-lived state (codes, sessions, pending requests, mailed links, revocations, passkey
//! ceremonies) in the domain's words, over whichever [`EphemeralStore`] the deployment has.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::clock::UnixTime;
use crate::secret::SecretHash;

/// Typed, domain-named operations over an [`EphemeralStore`].
#[derive(Clone)]
pub struct Ephemeral(pub Arc<dyn EphemeralStore>);

impl Ephemeral {
    async fn put_json<T: Serialize>(
        &self,
        key: String,
        value: &T,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Unavailable(e.into()))?;
        self.0.put(&key, &bytes, expires_at).await
    }

    fn decode<T: DeserializeOwned>(bytes: Option<Vec<u8>>) -> StoreResult<Option<T>> {
        match bytes {
            None => Ok(None),
            // A record written by another version that no longer parses is as good as gone.
            Some(b) => Ok(serde_json::from_slice(&b).ok()),
        }
    }

    pub async fn put_code(&self, code: &SecretHash, grant: &PendingGrant) -> StoreResult<()> {
        self.put_json(format!("code:{}", code.as_str()), grant, grant.expires_at)
            .await
    }

    /// Removes and returns the grant atomically: a code works once.
    pub async fn take_code(
        &self,
        code: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<PendingGrant>> {
        Self::decode(self.0.take(&format!("code:{}", code.as_str()), now).await?)
    }

    /// Remembers which grant a spent code produced, so that a second use can revoke it
    /// (RFC 6749 §4.1.2).
    pub async fn mark_code_used(
        &self,
        code: &SecretHash,
        grant_id: &str,
        until: UnixTime,
    ) -> StoreResult<()> {
        self.0
            .put(
                &format!("used-code:{}", code.as_str()),
                grant_id.as_bytes(),
                until,
            )
            .await
    }

    pub async fn code_used_by(
        &self,
        code: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        let v = self
            .0
            .get(&format!("used-code:{}", code.as_str()), now)
            .await?;
        Ok(v.and_then(|b| String::from_utf8(b).ok()))
    }

    pub async fn put_request(&self, id: &str, req: &AuthRequest) -> StoreResult<()> {
        self.put_json(format!("authz:{id}"), req, req.expires_at)
            .await
    }

    pub async fn request(&self, id: &str, now: UnixTime) -> StoreResult<Option<AuthRequest>> {
        Self::decode(self.0.get(&format!("authz:{id}"), now).await?)
    }

    pub async fn finish_request(&self, id: &str) -> StoreResult<()> {
        self.0.delete(&format!("authz:{id}")).await
    }

    pub async fn put_session(&self, id: &SecretHash, s: &Session) -> StoreResult<()> {
        self.put_json(format!("session:{}", id.as_str()), s, s.expires_at)
            .await
    }

    pub async fn session(&self, id: &SecretHash, now: UnixTime) -> StoreResult<Option<Session>> {
        Self::decode(self.0.get(&format!("session:{}", id.as_str()), now).await?)
    }

    pub async fn end_session(&self, id: &SecretHash) -> StoreResult<()> {
        self.0.delete(&format!("session:{}", id.as_str())).await
    }

    /// Keeps a mailed link's token (by hash) until it expires or is used.
    pub async fn put_link(
        &self,
        purpose: LinkPurpose,
        token: &SecretHash,
        link: &MailedLink,
    ) -> StoreResult<()> {
        self.put_json(link_key(purpose, token), link, link.expires_at)
            .await
    }

    /// The link a token stands for, leaving it usable (a form that follows it).
    pub async fn link(
        &self,
        purpose: LinkPurpose,
        token: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<MailedLink>> {
        Self::decode(self.0.get(&link_key(purpose, token), now).await?)
    }

    /// Removes and returns the link atomically: a mailed link works once.
    pub async fn take_link(
        &self,
        purpose: LinkPurpose,
        token: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<MailedLink>> {
        Self::decode(self.0.take(&link_key(purpose, token), now).await?)
    }

    /// Keeps the state of a passkey ceremony (WebAuthn) between its two requests, under
    /// the browser session it belongs to, in place of any earlier one of that session.
    pub async fn put_passkey_ceremony<T: Serialize>(
        &self,
        session: &SecretHash,
        state: &T,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        let key = format!("passkey-ceremony:{}", session.as_str());
        self.put_json(key, state, expires_at).await
    }

    /// Removes and returns the session's ceremony atomically: a challenge is answered once.
    pub async fn take_passkey_ceremony<T: DeserializeOwned>(
        &self,
        session: &SecretHash,
        now: UnixTime,
    ) -> StoreResult<Option<T>> {
        let key = format!("passkey-ceremony:{}", session.as_str());
        Self::decode(self.0.take(&key, now).await?)
    }

    /// Refuses an access token (by `jti`) or every access token of a grant until `until`.
    pub async fn revoke_access(&self, key: &RevocationKey, until: UnixTime) -> StoreResult<()> {
        self.0.put(&key.storage_key(), b"1", until).await
    }

    pub async fn is_access_revoked(
        &self,
        jti: &str,
        grant_id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let keys = [
            RevocationKey::Token(jti.to_string()).storage_key(),
            RevocationKey::Grant(grant_id.to_string()).storage_key(),
        ];
        self.0.any_present(&keys, now).await
    }
}

fn link_key(purpose: LinkPurpose, token: &SecretHash) -> String {
    let kind = match purpose {
        LinkPurpose::Verify => "verify-link",
        LinkPurpose::Reset => "reset-link",
        LinkPurpose::ChangeEmail => "email-link",
    };
    format!("{kind}:{}", token.as_str())
}

/// What a revocation names.
#[derive(Debug, Clone)]
pub enum RevocationKey {
    Token(String),
    Grant(String),
}

impl RevocationKey {
    fn storage_key(&self) -> String {
        match self {
            RevocationKey::Token(jti) => format!("revoked-jti:{jti}"),
            RevocationKey::Grant(id) => format!("revoked-grant:{id}"),
        }
    }
}
