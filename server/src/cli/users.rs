//! `lanyard user …`: accounts from the operator's side. Adding one, its metadata, vouching
//! for its address, and disabling it (no sign-in, no refresh, every session ended) or
//! enabling it again.

use std::io::Read;

use anyhow::{Context, bail};
use serde_json::json;

use crate::app::{App, open_stores};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::Email;
use crate::portal::register::{check, create_user};
use crate::store::{StoreError, Stores, User};

fn read_password(password: Option<String>) -> anyhow::Result<String> {
    if let Some(p) = password {
        return Ok(p);
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

pub async fn user_add(config: Config, email: &str, password: Option<String>) -> anyhow::Result<()> {
    let password = read_password(password)?;
    if let Err(msg) = check(&crate::portal::login::fold_email(email), &password) {
        bail!("{msg}");
    }
    let key = Email::parse(email)?;
    let app = App::build(config).await?;
    match create_user(&app, &key, &password, true).await {
        Ok(u) => {
            println!("{}", json!({"sub": u.sub, "email": u.email}));
            Ok(())
        }
        Err(StoreError::Conflict) => bail!("a user with email {email} already exists"),
        Err(e) => Err(e.into()),
    }
}

pub async fn user_metadata_set(config: Config, email: &str, metadata: &str) -> anyhow::Result<()> {
    let value: serde_json::Value =
        serde_json::from_str(metadata).context("metadata must be JSON")?;
    if !value.is_object() {
        bail!("metadata must be a JSON object");
    }
    let stores = open_stores(&config).await?;
    let user = find(&stores, email).await?;
    // Without an expected value the write is unconditional: true, or NotFound.
    stores.users.set_metadata(&user.sub, &value, None).await?;
    println!(
        "{}",
        json!({"sub": user.sub, "email": user.email, "metadata": value})
    );
    Ok(())
}

/// The account `email` names, or an error that says there is none.
async fn find(stores: &Stores, email: &str) -> anyhow::Result<User> {
    let key = Email::parse(email)?;
    match stores.users.user_by_email(&key).await? {
        Some(user) => Ok(user),
        None => bail!("no user with email {email}"),
    }
}

fn print_state(user: &User) {
    println!(
        "{}",
        json!({"sub": user.sub, "email": user.email, "email_verified": user.email_verified,
               "disabled": user.is_disabled()})
    );
}

/// `lanyard user verify <email>`: the operator vouches for the address.
pub async fn user_verify(config: Config, email: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let user = find(&stores, email).await?;
    stores.users.set_email_verified(&user.sub).await?;
    print_state(&find(&stores, email).await?);
    Ok(())
}

/// `lanyard user disable <email>`: the account can no longer sign in or refresh its
/// tokens, and every browser session it has ends (for good: enabling it again does not
/// bring them back).
pub async fn user_disable(config: Config, email: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let user = find(&stores, email).await?;
    let since = user.disabled_at.unwrap_or_else(|| SystemClock.now());
    stores.users.set_disabled(&user.sub, Some(since)).await?;
    print_state(&find(&stores, email).await?);
    Ok(())
}

/// `lanyard user enable <email>`: undoes `disable`; the account's apps work again.
pub async fn user_enable(config: Config, email: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let user = find(&stores, email).await?;
    stores.users.set_disabled(&user.sub, None).await?;
    print_state(&find(&stores, email).await?);
    Ok(())
}

/// `lanyard user reset-mfa <email>`: removes the second factors (TOTP with its recovery
/// codes, and every passkey), for a lost phone or key; the next sign-in asks for the
/// password alone, or to enrol again under `LANYARD_MFA=required`.
pub async fn user_reset_mfa(config: Config, email: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let user = find(&stores, email).await?;
    let totp = stores.factors.remove_totp(&user.sub).await?;
    let mut passkeys = 0;
    for p in stores.passkeys.passkeys(&user.sub).await? {
        if stores.passkeys.remove_passkey(&user.sub, &p.id).await? {
            passkeys += 1;
        }
    }
    println!(
        "{}",
        json!({
            "sub": user.sub,
            "email": user.email,
            "second_factor_removed": totp || passkeys > 0,
            "passkeys_removed": passkeys,
        })
    );
    Ok(())
}
