//! What each command-line verb does. `main.rs` parses; these run.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use crate::app::{App, open_stores};
use crate::clock::{Clock, OsRandom, Random, SystemClock, UnixTime};
use crate::config::Config;
use crate::domain::{ClientId, Email, GrantType};
use crate::oauth::cimd::AddressGuard;
use crate::oauth::client_metadata::{ClientMetadata, Profile, RawMetadata};
use crate::portal::register::{check, create_user};
use crate::store::notices::Change;
use crate::store::{ClientSource, KeyState, PolicyVersions, StoreError, Stores};
use crate::tokens::keyring::{ensure_keys, rotate};

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
    let email = Email::parse(email)?;
    let Some(user) = stores.users.user_by_email(&email).await? else {
        bail!("no user with email {email}");
    };
    stores.users.set_metadata(&user.sub, &value).await?;
    println!(
        "{}",
        json!({"sub": user.sub, "email": user.email, "metadata": value})
    );
    Ok(())
}

pub async fn user_reset_mfa(config: Config, email: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let email = Email::parse(email)?;
    let Some(user) = stores.users.user_by_email(&email).await? else {
        bail!("no user with email {email}");
    };
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

/// What `client add` was asked for.
#[derive(Debug)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub confidential: bool,
    pub scope: Option<String>,
    /// Resources this client serves: it may introspect their tokens.
    pub resource_server: Vec<String>,
}

pub async fn client_add(config: Config, c: NewClient) -> anyhow::Result<()> {
    if c.redirect_uris.is_empty() && c.resource_server.is_empty() {
        bail!(
            "give at least one --redirect-uri (or --resource-server for an introspecting resource)"
        );
    }
    let confidential = c.confidential || !c.resource_server.is_empty();
    let raw = RawMetadata {
        client_name: Some(c.name),
        redirect_uris: Some(json!(c.redirect_uris)),
        token_endpoint_auth_method: Some(
            if confidential {
                "client_secret_basic"
            } else {
                "none"
            }
            .into(),
        ),
        scope: c.scope,
        ..RawMetadata::default()
    };
    let profile = Profile::Operator {
        resource_server: &c.resource_server,
    };
    let guard = AddressGuard::new(config.cimd.allow_loopback);
    let metadata = ClientMetadata::validate(raw, profile, &guard).map_err(|e| anyhow!("{e}"))?;
    let stores = open_stores(&config).await?;
    let random = OsRandom::default();
    let id = ClientId::generate(&random);
    let secret = confidential.then(|| random.token());
    let mut out = json!({
        "client_id": id,
        "client_name": metadata.client_name,
        "token_endpoint_auth_method": metadata.token_endpoint_auth_method,
    });
    if let Some(s) = &secret {
        out["client_secret"] = json!(s);
    }
    let client = metadata.into_client(
        id,
        secret.as_deref(),
        ClientSource::Operator,
        SystemClock.now(),
    );
    stores.clients.create_client(&client).await?;
    println!("{out}");
    Ok(())
}

pub async fn client_list(config: Config) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    for c in stores.clients.clients().await? {
        println!(
            "{}",
            json!({"client_id": c.id, "client_name": c.name, "source": c.source.as_str(),
                   "token_endpoint_auth_method": c.auth_method, "redirect_uris": c.redirect_uris, "created_at": c.created_at})
        );
    }
    Ok(())
}

pub async fn client_remove(config: Config, id: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    if !stores.clients.remove_client(&ClientId::parse(id)?).await? {
        bail!("no client {id}");
    }
    println!("removed {id}");
    Ok(())
}

pub async fn keys_rotate(config: Config) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let kid = rotate(
        stores.keys.as_ref(),
        config.signing_alg,
        config.publish_retired_for(),
        SystemClock.now(),
    )
    .await?;
    // Running servers reload when told; one that misses it reloads at its next poll.
    let note = match stores.notices.publish(Change::Keys).await {
        Ok(()) if config.production.is_some() => "running servers have been told to switch",
        _ => "running servers switch within LANYARD_KEY_RELOAD_SECS",
    };
    println!("{}", json!({"signing_kid": kid, "note": note}));
    Ok(())
}

pub async fn keys_list(config: Config) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    ensure_keys(stores.keys.as_ref(), config.signing_alg, SystemClock.now()).await?;
    for k in stores.keys.signing_keys().await? {
        let state = match k.state {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        };
        println!(
            "{}",
            json!({"kid": k.kid, "alg": k.alg, "state": state, "created_at": k.created_at, "retired_at": k.retired_at})
        );
    }
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
    use crate::oauth::policies::guest_input;
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
            &user,
            &sign_in,
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

/// Which decision `lanyard policy log` looks up.
pub enum LogLookup {
    Token(String),
    Jti(String),
}

/// `lanyard policy log`: the most recent mints' decisions, newest first, or the one behind a
/// token; one JSON per line.
pub async fn policy_log(
    config: Config,
    limit: u32,
    lookup: Option<LogLookup>,
) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let entries = match lookup {
        None => stores.decisions.recent_decisions(limit).await?,
        Some(lookup) => {
            let (jti, iat) = match lookup {
                LogLookup::Jti(jti) => (jti, None),
                LogLookup::Token(token) => {
                    let (jti, iat) = token_id(&token)?;
                    (jti, Some(iat))
                }
            };
            match stores.decisions.decision(&jti, iat).await? {
                Some(e) => vec![e],
                None => bail!("no decision is logged for jti {jti}"),
            }
        }
    };
    for e in entries {
        let runs: Value = serde_json::from_str(&e.runs).unwrap_or(Value::Null);
        println!(
            "{}",
            json!({"jti": e.jti, "at": e.at, "client_id": e.client_id, "sub": e.sub, "resource": e.resource,
                   "grant_type": e.grant_type, "outcome": e.outcome, "runs": runs})
        );
    }
    Ok(())
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

/// The production store's policy versions, or why there are none.
fn policy_versions(stores: &Stores) -> anyhow::Result<Arc<dyn PolicyVersions>> {
    stores.policies.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "policy versions live in the production store (LANYARD_DATABASE_URL); on the \
             embedded store, replace the module file and the server reloads it"
        )
    })
}

/// Tells every running instance that a policy's active version changed; one that misses it
/// catches up at its next poll.
async fn tell_policies_changed(stores: &Stores) {
    if let Err(e) = stores.notices.publish(Change::Policies).await {
        tracing::warn!(error = %e, "could not tell the running servers; they catch up when they poll");
    }
}

/// `lanyard policy push <name> [module]`: checks the module against the policy world (a
/// module that does not compile or match is refused here, before any instance sees it),
/// keeps it, and makes it the version every instance runs.
pub async fn policy_push(
    config: Config,
    name: &str,
    module: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use crate::policy::engine::{Limits, PolicyEngine};
    let Some(bound) = config.policies.bindings.iter().find(|b| b.name == name) else {
        bail!("no binding in lanyard.toml names policy {name}");
    };
    let stores = open_stores(&config).await?;
    let versions = policy_versions(&stores)?;
    let path = module.unwrap_or(&bound.module);
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let compiled = PolicyEngine::new(Limits::default(), None)?
        .compile(name, &bytes)
        .map_err(|e| anyhow::anyhow!("refused: {e}"))?;
    let previous = versions.active_policy(name).await?;
    versions
        .activate_policy(name, &compiled.digest, &bytes, SystemClock.now())
        .await?;
    tell_policies_changed(&stores).await;
    println!(
        "{}",
        json!({"policy": name, "digest": &*compiled.digest, "previous": previous})
    );
    Ok(())
}

/// `lanyard policy rollback <name>`: makes the version before the active one active again.
pub async fn policy_rollback(config: Config, name: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let versions = policy_versions(&stores)?;
    let history = versions.policy_history(name).await?;
    let Some((current, _)) = history.first() else {
        bail!("policy {name} has no versions");
    };
    let Some((previous, _)) = history.iter().find(|(digest, _)| digest != current) else {
        bail!("policy {name} has no earlier version");
    };
    let Some(bytes) = versions.policy_module(previous).await? else {
        bail!("the module of version {previous} is missing");
    };
    versions
        .activate_policy(name, previous, &bytes, SystemClock.now())
        .await?;
    tell_policies_changed(&stores).await;
    println!(
        "{}",
        json!({"policy": name, "digest": previous, "previous": current})
    );
    Ok(())
}

/// `lanyard policy versions <name>`: its activations, newest (the active one) first; one
/// JSON per line.
pub async fn policy_history(config: Config, name: &str) -> anyhow::Result<()> {
    let stores = open_stores(&config).await?;
    let versions = policy_versions(&stores)?;
    for (i, (digest, at)) in versions.policy_history(name).await?.iter().enumerate() {
        println!(
            "{}",
            json!({"digest": digest, "activated_at": at, "active": i == 0})
        );
    }
    Ok(())
}
