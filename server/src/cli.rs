//! What each command-line verb does. `main.rs` parses; these run. The operator's verbs
//! (users, clients, keys, policy versions, the logs) call the operations the admin API
//! calls (`crate::admin`), acting as `cli`, through a [`Shell`]; they have files of their
//! own.

mod operator;
mod users;

pub use operator::*;
pub use users::*;

use std::collections::HashMap;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use crate::admin::{AdminError, Operator};
use crate::app::{App, open_stores};
use crate::clock::{OsRandom, SystemClock};
use crate::config::Config;
use crate::domain::{ClientId, Email, GrantType};
use crate::store::{Actor, Stores};

/// What an operator's command works on: the configured stores, acting as `cli`.
pub struct Shell {
    config: Config,
    stores: Stores,
    clock: SystemClock,
    random: OsRandom,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell").finish_non_exhaustive()
    }
}

impl Shell {
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let stores = open_stores(&config).await?;
        Ok(Self {
            config,
            stores,
            clock: SystemClock,
            random: OsRandom::default(),
        })
    }

    pub fn operator(&self) -> Operator<'_> {
        Operator {
            config: &self.config,
            stores: &self.stores,
            clock: &self.clock,
            random: &self.random,
            actor: Actor::Cli,
            request_id: None,
            policy_engine: None,
        }
    }
}

/// Prints an operation's answer as one JSON line, or fails with its sentence.
fn print<T: Serialize>(result: Result<T, AdminError>) -> anyhow::Result<()> {
    let value = result?;
    println!("{}", serde_json::to_string(&value)?);
    Ok(())
}

/// Prints each item of a list as a JSON line.
fn print_lines<T: Serialize>(result: Result<Vec<T>, AdminError>) -> anyhow::Result<()> {
    for item in result? {
        println!("{}", serde_json::to_string(&item)?);
    }
    Ok(())
}

/// Loads the configuration from the working directory and the process environment, and
/// logs what it warns about.
pub fn load_config() -> anyhow::Result<Config> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let (config, warnings) = Config::load(&std::env::current_dir()?, &env)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    // refinery narrates every start at info; the store logs what it applies.
    let filter = EnvFilter::try_from_env("LANYARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,refinery_core=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LANYARD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = |addr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))
    };
    let listeners = crate::http::Listeners {
        public: bind(config.listen).await?,
        admin: bind(config.admin_listen).await?,
    };
    let app = App::build(config).await?;
    crate::maintenance::spawn(&app);
    let addr = listeners.public.local_addr()?;
    let admin = listeners.admin.local_addr()?;
    tracing::info!(issuer = %app.config.issuer, %addr, %admin, kid = %app.keys.current().signer.kid, "lanyard listening");
    // A line on stdout that scripts and tests can wait for.
    println!(
        "lanyard listening on http://{addr} (issuer {}; admin on http://{admin})",
        app.config.issuer
    );
    crate::http::serve(app.clone(), listeners, crate::http::shutdown_signal()).await?;
    app.decisions.flush().await;
    Ok(())
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    open_stores(&config).await?;
    println!("migrations applied");
    Ok(())
}

/// `lanyard policy test`: one fixture in, one decision out (as JSON). A policy failure is
/// an error (non-zero exit) with the reason.
pub async fn policy_test(module: &std::path::Path, input: &std::path::Path) -> anyhow::Result<()> {
    use crate::policy::engine::{Limits, PolicyEngine};
    let bytes = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let input: crate::policy::PolicyInput =
        serde_json::from_str(&text).context("input does not match the fixture format")?;
    let engine = PolicyEngine::new(Limits::default(), None)?;
    let name = module
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("policy");
    let compiled = engine.compile(name, &bytes)?;
    let input = crate::policy::GuestInput::from_fixture(&input);
    let decision = crate::policy::chain::decide(&engine, &compiled, &input).await?;
    println!("{}", serde_json::to_string(&decision)?);
    Ok(())
}

/// `lanyard policy eval`: what the bound policies would decide for a real user, client and
/// resource, at both phases, without minting anything.
pub async fn policy_eval(
    config: Config,
    email: &str,
    client_id: &str,
    resource: &str,
) -> anyhow::Result<()> {
    use crate::oauth::policies::{ForUser, guest_input};
    use crate::policy::chain::evaluate;
    use crate::policy::input::Phase;
    let app = App::build(config).await?;
    let Some(registry) = app.policies.clone() else {
        bail!("no policies are bound in lanyard.toml");
    };
    let email = Email::parse(email)?;
    let Some(user) = app.stores.users.user_by_email(&email).await? else {
        bail!("no user with email {email}");
    };
    let client = crate::oauth::client::find_client(&app, &ClientId::parse(client_id)?)
        .await
        .map_err(|_| anyhow::anyhow!("no client {client_id}"))?;
    let uri = crate::oauth::types::ResourceUri::parse(resource)
        .map_err(|e| anyhow::anyhow!("{resource}: {e}"))?;
    let rc = app
        .config
        .resource(&uri)
        .ok_or_else(|| anyhow::anyhow!("{resource} is not a configured resource"))?;
    let scopes: Vec<String> = rc.scopes.iter().map(|s| s.as_str().to_string()).collect();
    // A sign-in now, with every factor the account has.
    let two_factors = app
        .stores
        .factors
        .totp(&user.sub)
        .await?
        .is_some_and(|f| f.confirmed_at.is_some());
    let sign_in = crate::domain::SignedIn {
        sub: user.sub.clone(),
        auth_time: app.now(),
        amr: if two_factors {
            crate::domain::SignInMethods::password_and_code()
        } else {
            crate::domain::SignInMethods::password()
        },
    };
    let input = |phase, grant_type| {
        guest_input(
            &app,
            phase,
            grant_type,
            Some(ForUser {
                user: &user,
                sign_in: &sign_in,
            }),
            &client,
            rc.uri.as_str(),
            scopes.clone(),
        )
    };
    let consent = evaluate(&registry, &mut input(Phase::Consent, None))
        .await
        .to_json();
    let token = evaluate(
        &registry,
        &mut input(Phase::Token, Some(GrantType::AuthorizationCode)),
    )
    .await
    .to_json();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"consent": consent, "token": token}))?
    );
    Ok(())
}
