//! `org-membership`: tokens say which organization the user acts for, and users outside any
//! organization can be kept out.
//!
//! Binding config: `{"domains": {"example.com": "org_example"}, "require_org": true}`
//! (`require_org` defaults to `false`).
//!
//! User metadata: `{"org": {"id": "org_x", "role": "admin"}}` (`role` defaults to `member`).
//!
//! - The org is the metadata's `org` when set, since an operator's explicit assignment beats
//!   a guess from the address; otherwise the email's domain (after the last `@`, compared
//!   case-insensitively and exactly, so `sub.example.com` is not `example.com`) mapped
//!   through `domains`, with role `member` — only when the email is verified, since anyone
//!   can sign up with any address.
//! - Token phase: claims `org_id` and `org_role`.
//! - Without an org and with `require_org`, both phases deny, so the user learns at the
//!   consent page rather than after it.
//! - Malformed metadata or config denies (never panics) and logs the detail for the operator.

use std::collections::BTreeMap;

use lanyard_policy::{ConsentDecision, InputError, Policy, Request, TokenDecision, log};
use serde::Deserialize;

/// The policy; see the crate docs for its contract.
pub struct OrgMembership;

lanyard_policy::export_policy!(OrgMembership);

/// The deny reason for a user with no organization when one is required.
pub const NO_ORG_DENY: &str = "Your account does not belong to an organization that can use \
     this service. Ask your administrator to add you to one.";

/// The role given to users whose org comes from their email domain.
const DOMAIN_ROLE: &str = "member";

#[derive(Debug, Default, Deserialize)]
// A misspelt `require_org` would otherwise silently let everyone in.
#[serde(deny_unknown_fields, default)]
struct Config {
    domains: BTreeMap<String, String>,
    require_org: bool,
}

/// Metadata is shared by every policy bound for the user, so unknown keys are someone
/// else's and are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    org: Option<OrgEntry>,
}

#[derive(Debug, Deserialize)]
struct OrgEntry {
    id: String,
    role: Option<String>,
}

/// The organization a user acts for.
#[derive(Debug, PartialEq, Eq)]
struct Membership {
    id: String,
    role: String,
}

/// Where a request stands once both inputs are read.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    Member(Membership),
    /// No org, and the binding does not require one.
    Outsider,
    /// No org, and the binding requires one.
    Refused,
}

fn standing(req: &Request) -> Result<Standing, InputError> {
    let config: Config = req.config()?;
    let meta: Metadata = req.metadata()?;
    // Only a verified address says which domain a user belongs to; a client acting for
    // itself (client credentials) has none, and belongs to an org only by no means here.
    let email = match &req.user {
        Some(user) if user.email_verified => user.email.as_str(),
        _ => "",
    };
    Ok(match membership(&config, meta, email)? {
        Some(m) => Standing::Member(m),
        None if config.require_org => Standing::Refused,
        None => Standing::Outsider,
    })
}

/// Finds the user's org, or `None` when neither metadata nor the email domain gives one.
fn membership(
    config: &Config,
    meta: Metadata,
    email: &str,
) -> Result<Option<Membership>, InputError> {
    if let Some(org) = meta.org {
        // An empty id or role would put an empty claim in the token, which resource servers
        // could read as "no org" or match by accident; refuse it instead.
        if org.id.trim().is_empty() {
            return Err(InputError::metadata("org.id is empty"));
        }
        let role = org.role.unwrap_or_else(|| DOMAIN_ROLE.to_owned());
        if role.trim().is_empty() {
            return Err(InputError::metadata("org.role is empty"));
        }
        return Ok(Some(Membership { id: org.id, role }));
    }

    let Some(domain) = email_domain(email) else {
        return Ok(None);
    };
    let org = config
        .domains
        .iter()
        .find(|(configured, _)| configured.eq_ignore_ascii_case(domain))
        .map(|(_, org)| org);
    match org {
        Some(id) if id.trim().is_empty() => Err(InputError::config(format!(
            "domain {domain:?} maps to an empty org id"
        ))),
        Some(id) => Ok(Some(Membership {
            id: id.clone(),
            role: DOMAIN_ROLE.to_owned(),
        })),
        None => Ok(None),
    }
}

/// The part after the last `@`; `None` when there is no domain to match.
fn email_domain(email: &str) -> Option<&str> {
    let (_, domain) = email.rsplit_once('@')?;
    let domain = domain.trim();
    (!domain.is_empty()).then_some(domain)
}

impl Policy for OrgMembership {
    fn consent(req: &Request) -> ConsentDecision {
        match standing(req) {
            Ok(Standing::Member(_) | Standing::Outsider) => ConsentDecision::allow(),
            Ok(Standing::Refused) => ConsentDecision::deny(NO_ORG_DENY),
            Err(e) => e.into(),
        }
    }

    fn token(req: &Request) -> TokenDecision {
        match standing(req) {
            Ok(Standing::Member(m)) => TokenDecision::allow()
                .claim("org_id", m.id)
                .claim("org_role", m.role),
            Ok(Standing::Outsider) => TokenDecision::allow(),
            Ok(Standing::Refused) => {
                log::info!("{} has no organization", req.subject());
                TokenDecision::deny(NO_ORG_DENY)
            }
            Err(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests;
