//! Passkeys (WebAuthn, through `webauthn-rs`): registering one to an account, and signing
//! in with one, either after the password (a second factor) or alone (a passkey asks for
//! the user's PIN or biometric, so it is two factors by itself).
//!
//! Every ceremony has two requests: the options the browser hands to
//! `navigator.credentials`, then its answer. The state in between lives in the ephemeral
//! store (any instance may answer the second request) under a key bound to the browser's
//! session, and is taken once: a challenge is answered at most once.
//!
//! The relying party is the issuer: its host is the RP id, its origin the only origin.
//! An issuer on an IP address has no passkeys (WebAuthn needs a domain).
//!
//! RFC 8176 names a passkey by how its key is kept: `hwk` for one bound to its device
//! (not backup-eligible), `swk` for one that syncs between devices.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::app::App;
use crate::config::Config;
use crate::domain::{PasskeyId, SignInMethod, UserId};
use crate::secret::SecretHash;
use crate::store::{StoreError, StoredPasskey};

/// How long a browser has between asking for a challenge and answering it.
const CEREMONY_TTL: i64 = 300;

/// The longest name a user may give a passkey.
pub const MAX_NAME: usize = 64;

/// The relying party for this issuer, or `None` when its host is no domain.
pub fn relying_party(config: &Config) -> Option<Webauthn> {
    let rp = build_relying_party(config);
    if rp.is_none() {
        tracing::info!(issuer = %config.issuer, "passkeys are off: WebAuthn needs the issuer on a domain name");
    }
    rp
}

fn build_relying_party(config: &Config) -> Option<Webauthn> {
    let origin = Url::parse(&config.issuer).ok()?;
    let rp_id = origin.domain()?.to_string();
    let origin = Url::parse(&origin.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name(&config.branding.product_name)
        .build()
        .ok()
}

/// Why a passkey was not registered or did not sign in.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// This issuer has no relying party (its host is an IP address).
    #[error("passkeys are off on this server")]
    Off,
    /// No challenge waits for this browser (never asked, expired, or already answered).
    #[error("no passkey challenge is waiting")]
    NoChallenge,
    /// The browser's answer does not verify: wrong challenge, origin or signature, an
    /// unknown passkey, or a signature counter that went back (a cloned authenticator).
    #[error("the passkey was refused: {0}")]
    Refused(String),
    /// The passkey is registered already.
    #[error("this passkey is registered already")]
    Taken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A sign-in by passkey: whose, and how its key is kept.
#[derive(Debug)]
pub struct PasskeySignIn {
    pub sub: UserId,
    pub method: SignInMethod,
}

/// What waits between a ceremony's two requests.
#[derive(Serialize, Deserialize)]
enum Ceremony {
    Register {
        sub: UserId,
        state: PasskeyRegistration,
    },
    /// After the password: one of `sub`'s passkeys.
    SecondFactor {
        sub: UserId,
        state: PasskeyAuthentication,
    },
    /// Alone: whichever account the passkey names.
    Passwordless { state: DiscoverableAuthentication },
}

fn webauthn(app: &App) -> Result<&Webauthn, PasskeyError> {
    app.webauthn.as_ref().ok_or(PasskeyError::Off)
}

fn refused(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Refused(e.to_string())
}

/// The WebAuthn user handle of an account: derived from its id, so nothing new is kept,
/// and opaque (no email, no id in the clear on the authenticator).
fn user_handle(sub: &UserId) -> Uuid {
    let hash = digest(&SHA256, sub.as_str().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    Uuid::from_bytes(bytes)
}

fn passkey_id(raw: &[u8]) -> Result<PasskeyId, PasskeyError> {
    PasskeyId::parse(&URL_SAFE_NO_PAD.encode(raw)).map_err(refused)
}

fn opened(stored: &StoredPasskey) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(&stored.credential)
        .map_err(|e| PasskeyError::Store(StoreError::Corrupt(e.into())))
}

async fn keep(app: &App, binding: &SecretHash, ceremony: &Ceremony) -> Result<(), PasskeyError> {
    let until = app.now() + CEREMONY_TTL;
    let ephemeral = &app.stores.ephemeral;
    Ok(ephemeral
        .put_passkey_ceremony(binding, ceremony, until)
        .await?)
}

async fn take(app: &App, binding: &SecretHash) -> Result<Ceremony, PasskeyError> {
    let ephemeral = &app.stores.ephemeral;
    let ceremony = ephemeral.take_passkey_ceremony(binding, app.now()).await?;
    ceremony.ok_or(PasskeyError::NoChallenge)
}

/// The options for `navigator.credentials.create`, for a new passkey of `sub`'s. The
/// passkey is discoverable (a resident key), so that it can sign in with no email typed.
pub async fn begin_registration(
    app: &App,
    sub: &UserId,
    email: &str,
    binding: &SecretHash,
) -> Result<serde_json::Value, PasskeyError> {
    let rp = webauthn(app)?;
    let existing = app.stores.passkeys.passkeys(sub).await?;
    let exclude = existing
        .iter()
        .map(opened)
        .map(|p| p.map(|p| p.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, state) = rp
        .start_passkey_registration(user_handle(sub), email, email, Some(exclude))
        .map_err(refused)?;
    let mut options =
        serde_json::to_value(options).map_err(|e| StoreError::Unavailable(e.into()))?;
    // webauthn-rs asks for a server-side credential; this one must also sign in alone.
    options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
    let ceremony = Ceremony::Register {
        sub: sub.clone(),
        state,
    };
    keep(app, binding, &ceremony).await?;
    Ok(options)
}

/// Verifies the browser's new credential and keeps it as `sub`'s passkey named `name`.
pub async fn finish_registration(
    app: &App,
    sub: &UserId,
    binding: &SecretHash,
    answer: &str,
    name: &str,
) -> Result<StoredPasskey, PasskeyError> {
    let rp = webauthn(app)?;
    let Ceremony::Register { sub: owner, state } = take(app, binding).await? else {
        return Err(PasskeyError::NoChallenge);
    };
    if &owner != sub {
        return Err(PasskeyError::NoChallenge);
    }
    let answer: RegisterPublicKeyCredential = serde_json::from_str(answer).map_err(refused)?;
    let passkey = rp
        .finish_passkey_registration(&answer, &state)
        .map_err(refused)?;
    let stored = StoredPasskey {
        id: passkey_id(passkey.cred_id())?,
        sub: sub.clone(),
        name: name.to_string(),
        credential: serde_json::to_string(&passkey)
            .map_err(|e| StoreError::Unavailable(e.into()))?,
        created_at: app.now(),
        last_used_at: None,
    };
    match app.stores.passkeys.add_passkey(&stored).await {
        Ok(()) => Ok(stored),
        Err(StoreError::Conflict) => Err(PasskeyError::Taken),
        Err(e) => Err(e.into()),
    }
}

/// The options for `navigator.credentials.get`: for one of `sub`'s passkeys after the
/// password, or (`None`) for any discoverable passkey, to sign in with it alone.
pub async fn begin_sign_in(
    app: &App,
    sub: Option<&UserId>,
    binding: &SecretHash,
) -> Result<RequestChallengeResponse, PasskeyError> {
    let rp = webauthn(app)?;
    let (options, ceremony) = match sub {
        Some(sub) => {
            let passkeys = app.stores.passkeys.passkeys(sub).await?;
            let passkeys = passkeys.iter().map(opened).collect::<Result<Vec<_>, _>>()?;
            let (options, state) = rp
                .start_passkey_authentication(&passkeys)
                .map_err(refused)?;
            let sub = sub.clone();
            (options, Ceremony::SecondFactor { sub, state })
        }
        None => {
            let (mut options, state) = rp.start_discoverable_authentication().map_err(refused)?;
            // A button asks for the passkey, not the browser's autofill (conditional UI).
            options.mediation = None;
            (options, Ceremony::Passwordless { state })
        }
    };
    keep(app, binding, &ceremony).await?;
    Ok(options)
}

/// Verifies the browser's assertion against the challenge waiting for it: `sub`'s after
/// the password, or (`None`) any account's. The passkey's signature counter moves on, so
/// a copy of the authenticator that signs with an older count is refused.
pub async fn finish_sign_in(
    app: &App,
    sub: Option<&UserId>,
    binding: &SecretHash,
    answer: &str,
) -> Result<PasskeySignIn, PasskeyError> {
    let rp = webauthn(app)?;
    let ceremony = take(app, binding).await?;
    let answer: PublicKeyCredential = serde_json::from_str(answer).map_err(refused)?;
    let id = passkey_id(answer.get_credential_id())?;
    let stored = app
        .stores
        .passkeys
        .passkey(&id)
        .await?
        .ok_or_else(|| refused("unknown passkey"))?;
    let mut passkey = opened(&stored)?;
    let result = match (ceremony, sub) {
        (Ceremony::SecondFactor { sub: owner, state }, Some(sub))
            if &owner == sub && &stored.sub == sub =>
        {
            rp.finish_passkey_authentication(&answer, &state)
        }
        (Ceremony::Passwordless { state }, None) => {
            let (handle, _) = rp
                .identify_discoverable_authentication(&answer)
                .map_err(refused)?;
            if handle != user_handle(&stored.sub) {
                return Err(refused("the passkey names another account"));
            }
            let key = DiscoverableKey::from(&passkey);
            rp.finish_discoverable_authentication(&answer, state, &[key])
        }
        _ => return Err(PasskeyError::NoChallenge),
    }
    .map_err(refused)?;
    passkey.update_credential(&result);
    let credential =
        serde_json::to_string(&passkey).map_err(|e| StoreError::Unavailable(e.into()))?;
    app.stores
        .passkeys
        .passkey_used(&id, &credential, app.now())
        .await?;
    let method = if result.backup_eligible() {
        SignInMethod::SoftwareKey
    } else {
        SignInMethod::HardwareKey
    };
    Ok(PasskeySignIn {
        sub: stored.sub,
        method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_are_stable_and_opaque() {
        let a = UserId::parse("user-a").unwrap();
        assert_eq!(user_handle(&a), user_handle(&a));
        assert_ne!(
            user_handle(&a),
            user_handle(&UserId::parse("user-b").unwrap())
        );
        assert!(!user_handle(&a).to_string().contains("user-a"));
    }
}
