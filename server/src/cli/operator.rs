//! `lanyard client …`, `keys …`, `policy push|rollback|versions|log` and `audit`: the admin
//! API's operations (`crate::admin`), acting as `cli`, each printing what the API would
//! answer, one JSON line per object.

use anyhow::{Context, bail};
use serde_json::json;

use super::{Shell, print, print_lines};
use crate::admin::clients::{self, NewClient};
use crate::admin::{audit, decisions, keys, policies};
use crate::clock::UnixTime;
use crate::config::Config;

pub async fn client_add(config: Config, new: NewClient) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    print(clients::create(&shell.operator(), new).await)
}

pub async fn client_list(config: Config) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    print_lines(clients::list(&shell.operator()).await)
}

pub async fn client_remove(config: Config, id: &str) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    clients::delete(&shell.operator(), id).await?;
    println!("{}", json!({"removed": id}));
    Ok(())
}

/// `lanyard client rotate-secret <id>`: prints the new secret, once.
pub async fn client_rotate_secret(config: Config, id: &str) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    print(clients::rotate_secret(&shell.operator(), id).await)
}

pub async fn keys_rotate(config: Config) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    print(keys::rotate(&shell.operator()).await)
}

pub async fn keys_list(config: Config) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    print_lines(keys::list(&shell.operator()).await)
}

/// `lanyard policy push <name> [module]`: by default the module lanyard.toml binds under
/// that name.
pub async fn policy_push(
    config: Config,
    name: &str,
    module: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let Some(bound) = config.policies.bindings.iter().find(|b| b.name == name) else {
        bail!("no binding in lanyard.toml names policy {name}");
    };
    let path = module.unwrap_or(&bound.module).to_path_buf();
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let shell = Shell::open(config).await?;
    print(policies::push(&shell.operator(), name, bytes).await)
}

pub async fn policy_rollback(config: Config, name: &str) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    print(policies::rollback(&shell.operator(), name).await)
}

/// `lanyard policy versions <name>`: its activations, newest (the active one) first.
pub async fn policy_history(config: Config, name: &str) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    let all = policies::list(&shell.operator()).await?;
    let Some(policy) = all.into_iter().find(|p| p.name == name) else {
        bail!("no binding in lanyard.toml names policy {name}");
    };
    for (i, v) in policy.versions.iter().enumerate() {
        println!(
            "{}",
            json!({"digest": v.digest, "activated_at": v.activated_at, "active": i == 0})
        );
    }
    Ok(())
}

/// Which decision `lanyard policy log` looks up.
#[derive(Debug)]
pub enum LogLookup {
    Token(String),
    Jti(String),
}

/// `lanyard policy log`: the most recent mints' decisions, newest first, or the one behind a
/// token.
pub async fn policy_log(
    config: Config,
    limit: u32,
    lookup: Option<LogLookup>,
) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    let op = shell.operator();
    match lookup {
        None => print_lines(decisions::recent(&op, Some(limit)).await),
        Some(LogLookup::Jti(jti)) => print(decisions::by_jti(&op, &jti, None).await),
        Some(LogLookup::Token(token)) => {
            let (jti, iat) = token_id(&token)?;
            print(decisions::by_jti(&op, &jti, Some(iat)).await)
        }
    }
}

/// A token's `jti` and `iat`, read without verifying it: this only finds a log entry, and
/// trusts nothing the token says.
fn token_id(token: &str) -> anyhow::Result<(String, UnixTime)> {
    #[derive(serde::Deserialize)]
    struct Id {
        jti: String,
        iat: UnixTime,
    }
    let id: Id = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|_| anyhow::anyhow!("not a JWT with a jti and an iat"))?;
    Ok((id.jti, id.iat))
}

/// `lanyard audit`: the newest admin changes first, API and CLI alike.
pub async fn audit(config: Config, limit: u32, before: Option<&str>) -> anyhow::Result<()> {
    let shell = Shell::open(config).await?;
    let page = audit::list(&shell.operator(), before, Some(limit)).await?;
    print_lines(Ok(page.entries))?;
    if let Some(next) = page.next_cursor {
        eprintln!("older entries: lanyard audit --before {next}");
    }
    Ok(())
}
