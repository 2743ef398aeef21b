//! Second factors: TOTP (RFC 6238) with its single-use recovery codes, and passkeys. The pages are the
//! portal's (`portal::second_factor` asks for a code at sign-in, `portal::totp` enrols);
//! this module decides what an account needs and checks what it is given.
//!
//! - `totp`: secrets, codes, the `otpauth://` URI and its QR code.
//! - `recovery`: the recovery codes.
//! - `key`: the key TOTP secrets are sealed under at rest.
//! - `passkey`: passkeys (WebAuthn), a second factor after the password or a sign-in alone.

pub mod key;
pub mod passkey;
pub mod recovery;
pub mod totp;

use crate::app::App;
use crate::config::MfaMode;
use crate::domain::{Email, SignInMethod, SignedIn, UserId};
use crate::store::{NextStep, StoreError, StoreResult};
use totp::TotpSecret;

/// What an account needs after its password: nothing, its second factor (a code or a
/// passkey), or (`LANYARD_MFA=required`) to enrol a second factor first.
pub async fn after_password(app: &App, sub: &UserId) -> StoreResult<Option<NextStep>> {
    let factors = enrolled(app, sub).await?;
    if factors.code || factors.passkey {
        return Ok(Some(NextStep::Code));
    }
    Ok((app.config.mfa == MfaMode::Required).then_some(NextStep::Enrol))
}

/// The second factors an account can sign in with.
#[derive(Debug, Clone, Copy)]
pub struct Enrolled {
    /// A confirmed TOTP factor (and its recovery codes).
    pub code: bool,
    /// At least one passkey, on a server that has passkeys.
    pub passkey: bool,
}

pub async fn enrolled(app: &App, sub: &UserId) -> StoreResult<Enrolled> {
    let totp = app.stores.factors.totp(sub).await?;
    let passkey = app.webauthn.is_some() && !app.stores.passkeys.passkeys(sub).await?.is_empty();
    Ok(Enrolled {
        code: totp.is_some_and(|f| f.confirmed_at.is_some()),
        passkey,
    })
}

/// Whether a sign-in is good enough for this server: under `LANYARD_MFA=required`, one
/// without a second factor (a session from before the setting) must sign in again.
pub fn satisfies(app: &App, user: &SignedIn) -> bool {
    app.config.mfa == MfaMode::Optional || user.amr.contains(SignInMethod::MultiFactor)
}

/// Whether `code`, a TOTP code or a recovery code, is good for `sub`'s confirmed factor;
/// a good one is spent, so it works once.
pub async fn check_code(app: &App, sub: &UserId, code: &str) -> StoreResult<bool> {
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(secret) = confirmed_secret(app, sub).await? else {
            return Ok(false);
        };
        return match secret.step_of(code, app.now()) {
            Some(step) => app.stores.factors.spend_totp_step(sub, step).await,
            None => Ok(false),
        };
    }
    match recovery::hash(code) {
        Some(hash) => app.stores.factors.spend_recovery_code(sub, &hash).await,
        None => Ok(false),
    }
}

/// The secret of `sub`'s confirmed factor, opened.
async fn confirmed_secret(app: &App, sub: &UserId) -> StoreResult<Option<TotpSecret>> {
    let Some(factor) = app.stores.factors.totp(sub).await? else {
        return Ok(None);
    };
    if factor.confirmed_at.is_none() {
        return Ok(None);
    }
    Ok(open(app, sub, &factor.sealed_secret))
}

fn open(app: &App, sub: &UserId, sealed: &[u8]) -> Option<TotpSecret> {
    let opened = app
        .factor_key
        .as_ref()
        .and_then(|key| TotpSecret::open(key, sub, sealed));
    if opened.is_none() {
        // The key changed or is missing: only recovery codes (or `lanyard user reset-mfa`)
        // get this user in now.
        tracing::error!(%sub, "a TOTP secret does not open with the configured key");
    }
    opened
}

/// Where an account's second factor stands.
#[derive(Debug)]
pub enum Status {
    /// On, with so many recovery codes left.
    On { recovery_codes_left: u32 },
    /// Waiting for the first code of this secret, to be shown as a QR code.
    Enrolling(Enrolment),
}

/// A secret being enrolled, as the page shows it.
#[derive(Debug)]
pub struct Enrolment {
    pub uri: String,
    pub secret: String,
}

/// Why a second factor cannot be set up or checked here.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("second factors need LANYARD_ENCRYPTION_KEY on this store")]
    NoKey,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The account's factor, starting an enrolment when it has none. A waiting secret is
/// shown again rather than replaced, so reloading the page keeps the code already
/// scanned working.
pub async fn status(app: &App, sub: &UserId, email: &Email) -> Result<Status, FactorError> {
    let key = app.factor_key.as_ref().ok_or(FactorError::NoKey)?;
    let existing = app.stores.factors.totp(sub).await?;
    if let Some(f) = &existing
        && f.confirmed_at.is_some()
    {
        let left = app.stores.factors.recovery_codes_left(sub).await?;
        return Ok(Status::On {
            recovery_codes_left: left,
        });
    }
    let waiting = existing.and_then(|f| TotpSecret::open(key, sub, &f.sealed_secret));
    let secret = match waiting {
        Some(s) => s,
        None => {
            let s = TotpSecret::generate(app.random.as_ref());
            let sealed = s
                .seal(key, sub, app.random.as_ref())
                .ok_or_else(|| StoreError::Unavailable("sealing failed".into()))?;
            app.stores
                .factors
                .begin_totp(sub, &sealed, app.now())
                .await?;
            s
        }
    };
    // Authenticator apps list the account under the operator's product name.
    let issuer = &app.config.branding.product_name;
    let enrolment = secret
        .uri(issuer, email.as_str())
        .zip(secret.base32())
        .map(|(uri, secret)| Enrolment { uri, secret })
        .ok_or_else(|| StoreError::Unavailable("no otpauth URI".into()))?;
    Ok(Status::Enrolling(enrolment))
}

/// Confirms the waiting secret with its first code. Returns the recovery codes, to show
/// once, or `None` when the code is wrong (or nothing waits).
pub async fn confirm(
    app: &App,
    sub: &UserId,
    code: &str,
) -> Result<Option<Vec<String>>, FactorError> {
    let key = app.factor_key.as_ref().ok_or(FactorError::NoKey)?;
    let Some(factor) = app.stores.factors.totp(sub).await? else {
        return Ok(None);
    };
    if factor.confirmed_at.is_some() {
        return Ok(None);
    }
    let Some(step) = TotpSecret::open(key, sub, &factor.sealed_secret)
        .and_then(|secret| secret.step_of(code, app.now()))
    else {
        return Ok(None);
    };
    let codes = recovery::generate(app.random.as_ref());
    let hashes: Vec<_> = codes.iter().filter_map(|c| recovery::hash(c)).collect();
    let confirmed = app
        .stores
        .factors
        .confirm_totp(sub, step, &hashes, app.now())
        .await?;
    Ok(confirmed.then_some(codes))
}
