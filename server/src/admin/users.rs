//! Accounts from the operator's side: creating one, finding one by id or email, listing
//! them a page at a time, vouching for an address, disabling and enabling, removing second
//! factors, and deleting.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{AdminError, AdminResult, Operator, audit, invalid, page_limit};
use crate::clock::UnixTime;
use crate::domain::{Email, UserId};
use crate::oauth::token::refuse_grant_access;
use crate::portal::register::{check, create_user};
use crate::store::{StoreError, User};

/// An account, as the API shows it (metadata has its own resource, with an ETag).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The stable id: every token's `sub`.
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub disabled: bool,
    /// Unix seconds; absent unless disabled.
    pub disabled_at: Option<UnixTime>,
    pub created_at: UnixTime,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.sub.to_string(),
            email: u.email.to_string(),
            email_verified: u.email_verified,
            disabled: u.is_disabled(),
            disabled_at: u.disabled_at,
            created_at: u.created_at,
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    /// At least 8 characters. Without one the account has no usable password until its
    /// owner sets one through "forgot password" (or signs in another way).
    pub password: Option<String>,
    /// Whether the operator vouches for the address; true unless said otherwise.
    pub email_verified: Option<bool>,
}

/// A page of accounts, in id order, and where the next one starts.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// What removing an account's second factors removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorsRemoved {
    /// Whether the account had any second factor (TOTP or a passkey) to remove.
    pub second_factor_removed: bool,
    pub passkeys_removed: u32,
}

pub async fn create(op: &Operator<'_>, new: NewUser) -> AdminResult<UserView> {
    let email = Email::parse(&new.email).map_err(|e| invalid("email", e))?;
    let password = match new.password {
        Some(p) => p,
        // Nobody knows this one, and nobody is told it: a reset sets the first real one.
        None => op.random.token(),
    };
    check(email.as_str(), &password).map_err(|e| AdminError::Invalid(e.into()))?;
    let verified = new.email_verified.unwrap_or(true);
    let user = create_user(
        op.stores.users.as_ref(),
        op.random,
        op.now(),
        &email,
        &password,
        verified,
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict => {
            AdminError::Conflict("a user with this email already exists".into())
        }
        e => e.into(),
    })?;
    audit::record(
        op,
        "user.create",
        user.sub.as_str(),
        Some(json!({"email": user.email})),
    )
    .await;
    Ok(UserView::from(&user))
}

/// The account with this id.
pub async fn find(op: &Operator<'_>, id: &str) -> AdminResult<User> {
    let sub = UserId::parse(id).map_err(|_| AdminError::NotFound("user"))?;
    op.stores
        .users
        .user_by_sub(&sub)
        .await?
        .ok_or(AdminError::NotFound("user"))
}

/// The account with this email, if any.
pub async fn by_email(op: &Operator<'_>, email: &str) -> AdminResult<Option<User>> {
    let email = Email::parse(email).map_err(|e| invalid("email", e))?;
    Ok(op.stores.users.user_by_email(&email).await?)
}

/// The account with this email, or `NotFound`: the CLI names accounts by email.
pub async fn find_by_email(op: &Operator<'_>, email: &str) -> AdminResult<User> {
    by_email(op, email)
        .await?
        .ok_or(AdminError::NotFound("user"))
}

/// A page of accounts after the cursor (from the first without one).
pub async fn list(
    op: &Operator<'_>,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> AdminResult<UserPage> {
    let after = match cursor {
        Some(c) => Some(UserId::parse(c).map_err(|_| invalid("cursor", "not a cursor"))?),
        None => None,
    };
    let limit = page_limit(limit);
    let users = op.stores.users.users(after.as_ref(), limit).await?;
    let next_cursor = (users.len() == limit as usize)
        .then(|| users.last().map(|u| u.sub.to_string()))
        .flatten();
    Ok(UserPage {
        users: users.iter().map(UserView::from).collect(),
        next_cursor,
    })
}

/// Disables the account (no sign-in, no refresh, every browser session ended) or enables
/// it again. Disabling an account already disabled keeps its first date.
pub async fn set_disabled(op: &Operator<'_>, id: &str, disabled: bool) -> AdminResult<UserView> {
    let user = find(op, id).await?;
    let since = disabled.then(|| user.disabled_at.unwrap_or_else(|| op.now()));
    op.stores.users.set_disabled(&user.sub, since).await?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit::record(op, action, user.sub.as_str(), None).await;
    Ok(UserView::from(&find(op, id).await?))
}

/// The operator vouches for the account's address.
pub async fn verify_email(op: &Operator<'_>, id: &str) -> AdminResult<UserView> {
    let user = find(op, id).await?;
    op.stores.users.set_email_verified(&user.sub).await?;
    audit::record(op, "user.verify", user.sub.as_str(), None).await;
    Ok(UserView::from(&find(op, id).await?))
}

/// Removes the account's second factors (TOTP with its recovery codes, and every
/// passkey), for a lost phone or key.
pub async fn reset_factors(op: &Operator<'_>, id: &str) -> AdminResult<FactorsRemoved> {
    let user = find(op, id).await?;
    let totp_removed = op.stores.factors.remove_totp(&user.sub).await?;
    let mut passkeys_removed = 0;
    for p in op.stores.passkeys.passkeys(&user.sub).await? {
        if op.stores.passkeys.remove_passkey(&user.sub, &p.id).await? {
            passkeys_removed += 1;
        }
    }
    audit::record(op, "user.reset_mfa", user.sub.as_str(), None).await;
    Ok(FactorsRemoved {
        second_factor_removed: totp_removed || passkeys_removed > 0,
        passkeys_removed,
    })
}

/// Deletes the account with everything it holds, and refuses the access tokens its grants
/// minted; the email is free again.
pub async fn delete(op: &Operator<'_>, id: &str) -> AdminResult<()> {
    let user = find(op, id).await?;
    let now = op.now();
    let grants = op
        .stores
        .users
        .delete_user(&user.sub, now - op.config.access_token_ttl)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AdminError::NotFound("user"),
            e => e.into(),
        })?;
    audit::record(
        op,
        "user.delete",
        user.sub.as_str(),
        Some(json!({"email": user.email})),
    )
    .await;
    // The account is gone either way; an access token that cannot be refused now lives out
    // its few minutes, which the log says.
    for grant in &grants {
        if let Err(e) = refuse_grant_access(op.stores, op.config, now, grant).await {
            tracing::error!(error = %e, grant, "could not refuse a deleted account's access tokens");
        }
    }
    Ok(())
}
