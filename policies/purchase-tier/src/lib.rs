//! `purchase-tier`: what a user bought decides what an app may do on their behalf.
//!
//! Binding config (one entry per tier; every key optional except that `default` must name
//! a tier that exists):
//!
//! ```json
//! {"default": "free",
//!  "tiers": {"free": {"drop_scopes": ["write"], "notice": "Write access needs the Pro plan."},
//!            "pro":  {"entitlements": ["export", "priority"]}}}
//! ```
//!
//! User metadata, per resource: `{"tiers": {"<resource>": "pro"}, "lapsed": ["<resource>"]}`.
//!
//! - The tier is `metadata.tiers[resource]`; a missing or unconfigured tier name falls back
//!   to `default` (itself `"free"` when unset).
//! - Token phase (code exchange and refresh): claim `tier`, claim `entitlements` when the
//!   tier has any, and the tier's `drop_scopes` that are in play are withheld. A resource
//!   listed in `lapsed` is denied, so a lapsed subscription stops at the next refresh.
//! - Consent phase: the same scopes are withheld and the tier's `notice` explains why. A
//!   lapsed user gets a notice rather than a deny, since they may renew before the exchange.
//! - Malformed metadata or config denies (never panics) and logs the detail for the operator.

use std::collections::BTreeMap;

use lanyard_policy::{ConsentDecision, InputError, Policy, Request, TokenDecision, log};
use serde::Deserialize;

/// The policy; see the crate docs for its contract.
pub struct PurchaseTier;

lanyard_policy::export_policy!(PurchaseTier);

/// Shown at consent when the user's subscription for this resource has lapsed.
pub const LAPSED_NOTICE: &str =
    "Your subscription for this service has lapsed. Renew it, or this app will be refused access.";

/// The deny reason at the token phase for a lapsed subscription.
pub const LAPSED_DENY: &str =
    "Your subscription for this service has lapsed. Renew it to continue.";

/// The tier used when config sets no `default`.
const FALLBACK_DEFAULT: &str = "free";

#[derive(Debug, Deserialize)]
// A misspelt key (say `drop_scope`) would otherwise silently grant a scope meant to be
// withheld; refusing the config makes the operator notice.
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "fallback_default")]
    default: String,
    #[serde(default)]
    tiers: BTreeMap<String, Tier>,
}

fn fallback_default() -> String {
    FALLBACK_DEFAULT.to_owned()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Tier {
    drop_scopes: Vec<String>,
    notice: Option<String>,
    entitlements: Vec<String>,
}

/// Metadata is shared by every policy bound for the user, so unknown keys are someone
/// else's and are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    tiers: BTreeMap<String, String>,
    lapsed: Vec<String>,
}

/// The tier in force for one request, with what follows from it.
struct Resolved<'a> {
    name: &'a str,
    tier: &'a Tier,
    /// The tier's drop-scopes that are actually in play; the host refuses drops of anything else.
    dropped: Vec<&'a str>,
    lapsed: bool,
}

/// Picks the tier for this request from the parsed inputs.
fn resolve<'a>(
    req: &Request,
    config: &'a Config,
    meta: &'a Metadata,
) -> Result<Resolved<'a>, InputError> {
    let default = config.tiers.get(config.default.as_str()).ok_or_else(|| {
        InputError::config(format!(
            "default tier {:?} is not one of the configured tiers",
            config.default
        ))
    })?;
    let (name, tier) = match meta.tiers.get(req.resource.as_str()) {
        Some(name) => match config.tiers.get(name.as_str()) {
            Some(tier) => (name.as_str(), tier),
            None => {
                log::warn!(
                    "user {} has tier {name:?}, which is not configured; using {:?}",
                    req.subject(),
                    config.default
                );
                (config.default.as_str(), default)
            }
        },
        None => (config.default.as_str(), default),
    };
    let dropped = tier
        .drop_scopes
        .iter()
        .filter(|s| req.has_scope(s))
        .map(String::as_str)
        .collect();
    Ok(Resolved {
        name,
        tier,
        dropped,
        lapsed: meta.lapsed.contains(&req.resource),
    })
}

fn read_inputs(req: &Request) -> Result<(Config, Metadata), InputError> {
    Ok((req.config()?, req.metadata()?))
}

impl Policy for PurchaseTier {
    fn consent(req: &Request) -> ConsentDecision {
        let (config, meta) = match read_inputs(req) {
            Ok(inputs) => inputs,
            Err(e) => return e.into(),
        };
        let resolved = match resolve(req, &config, &meta) {
            Ok(r) => r,
            Err(e) => return e.into(),
        };

        let mut decision = ConsentDecision::allow();
        if resolved.lapsed {
            decision = decision.notice(LAPSED_NOTICE);
        }
        for scope in &resolved.dropped {
            decision = decision.drop_scope(*scope);
        }
        // The notice explains what the tier withholds, so it is noise when nothing requested
        // was withheld; a tier that withholds nothing shows its notice every time.
        let explains_a_drop = !resolved.dropped.is_empty() || resolved.tier.drop_scopes.is_empty();
        if let Some(notice) = resolved.tier.notice.as_deref().filter(|_| explains_a_drop) {
            decision = decision.notice(notice);
        }
        decision
    }

    fn token(req: &Request) -> TokenDecision {
        let (config, meta) = match read_inputs(req) {
            Ok(inputs) => inputs,
            Err(e) => return e.into(),
        };
        let resolved = match resolve(req, &config, &meta) {
            Ok(r) => r,
            Err(e) => return e.into(),
        };
        // Denied at code exchange as well as at refresh: consent only warned the user.
        if resolved.lapsed {
            log::info!(
                "subscription lapsed for {} on {}",
                req.subject(),
                req.resource
            );
            return TokenDecision::deny(LAPSED_DENY);
        }

        let mut decision = TokenDecision::allow().claim("tier", resolved.name);
        if !resolved.tier.entitlements.is_empty() {
            decision = decision.claim("entitlements", resolved.tier.entitlements.as_slice());
        }
        for scope in &resolved.dropped {
            decision = decision.drop_scope(*scope);
        }
        decision
    }
}

#[cfg(test)]
mod tests;
