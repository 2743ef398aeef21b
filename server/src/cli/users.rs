//! `lanyard user …`: accounts from the operator's side, named by email. Each verb is the
//! admin API's operation (`crate::admin::users`, `metadata`), acting as `cli`.

use std::io::Read;

use anyhow::Context;
use serde_json::json;

use super::{Shell, print, print_lines};
use crate::admin::metadata::{self, Precondition};
use crate::admin::users::{self, NewUser, UserView};
use crate::config::Config;

fn read_password(password: Option<String>) -> anyhow::Result<String> {
    if let Some(p) = password {
        return Ok(p);
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

/// `lanyard user add <email>`: an account whose address the operator vouches for.
pub async fn user_add(config: Config, email: &str, password: Option<String>) -> anyhow::Result<()> {
    let password = read_password(password)?;
    let shell = Shell::open(config).await?;
    let new = NewUser {
        email: email.to_string(),
        password: Some(password),
        email_verified: Some(true),
    };
    print(users::create(&shell.operator(), new).await)
}

/// `lanyard user list`: every account, one JSON line each, a page at a time.
pub async fn user_list(config: Config) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    let op = shell.operator();
    let mut cursor = None;
    loop {
        let page = users::list(&op, cursor.as_deref(), None).await?;
        print_lines(Ok(page.users))?;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

pub async fn user_metadata_set(config: Config, email: &str, metadata: &str) -> anyhow::Result<()> {
    let value: serde_json::Value =
        serde_json::from_str(metadata).context("metadata must be JSON")?;
    let shell = Shell::open(config).await?;
    let op = shell.operator();
    let user = users::find_by_email(&op, email).await?;
    let written = metadata::put(&op, user.sub.as_str(), value, &Precondition::None).await?;
    println!(
        "{}",
        json!({"id": user.sub, "email": user.email, "metadata": written.value})
    );
    Ok(())
}

/// The verbs that act on one account named by email and print it after.
#[derive(Debug, Clone, Copy)]
pub enum UserChange {
    /// The operator vouches for the address.
    Verify,
    /// No sign-in, no refresh, every browser session ended (for good: enabling the
    /// account again does not bring them back).
    Disable,
    Enable,
}

pub async fn user_change(config: Config, email: &str, change: UserChange) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    let op = shell.operator();
    let user = users::find_by_email(&op, email).await?;
    let id = user.sub.as_str();
    let changed = match change {
        UserChange::Verify => users::verify_email(&op, id).await,
        UserChange::Disable => users::set_disabled(&op, id, true).await,
        UserChange::Enable => users::set_disabled(&op, id, false).await,
    };
    print::<UserView>(changed)
}

/// `lanyard user reset-mfa <email>`: removes the second factors (TOTP with its recovery
/// codes, and every passkey), for a lost phone or key; the next sign-in asks for the
/// password alone, or to enrol again under `LANYARD_MFA=required`.
pub async fn user_reset_mfa(config: Config, email: &str) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    let op = shell.operator();
    let user = users::find_by_email(&op, email).await?;
    print(users::reset_factors(&op, user.sub.as_str()).await)
}

/// `lanyard user delete <email>`: the account and everything it holds.
pub async fn user_delete(config: Config, email: &str) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    let op = shell.operator();
    let user = users::find_by_email(&op, email).await?;
    users::delete(&op, user.sub.as_str()).await?;
    println!("{}", json!({"deleted": user.sub, "email": user.email}));
    Ok(())
}
