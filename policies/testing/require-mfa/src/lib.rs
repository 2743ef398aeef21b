//! `require-mfa-policy`: a test fixture for the sign-in facts the host gives policies. It
//! refuses, at both phases, a user who did not sign in with more than one factor (RFC 8176
//! `mfa`), and otherwise adds what it saw as two claims, `seen_amr` and `seen_auth_time`,
//! so a test can check the policy was told how and when the user signed in. A client
//! acting for itself (client credentials, no user) is let through with a `seen_client`
//! claim naming it, so a test can check that the token phase ran without a user.

use lanyard_policy::{ConsentDecision, Policy, Request, TokenDecision};

/// The fixture; see the crate docs.
pub struct RequireMfa;

lanyard_policy::export_policy!(RequireMfa);

/// What the user is told, and the client at the token endpoint.
pub const DENY: &str = "This app needs a sign-in with a second factor. Turn on an authenticator app for your account, then sign in again.";

impl Policy for RequireMfa {
    fn consent(req: &Request) -> ConsentDecision {
        if req.signed_in_with("mfa") {
            ConsentDecision::allow()
        } else {
            ConsentDecision::deny(DENY)
        }
    }

    fn token(req: &Request) -> TokenDecision {
        let Some(user) = &req.user else {
            return TokenDecision::allow().claim("seen_client", req.client.id.as_str());
        };
        if !user.signed_in_with("mfa") {
            return TokenDecision::deny(DENY);
        }
        TokenDecision::allow()
            .claim("seen_amr", user.amr.clone())
            .claim("seen_auth_time", user.auth_time)
    }
}

#[cfg(test)]
mod tests {
    use lanyard_policy::GrantType;

    use super::*;

    #[test]
    fn a_password_alone_is_refused_and_two_factors_pass() {
        let password = Request::default().with_sign_in(["pwd"], 100);
        assert_eq!(RequireMfa::consent(&password), ConsentDecision::deny(DENY));
        let token = password.clone().with_grant_type(GrantType::RefreshToken);
        assert_eq!(RequireMfa::token(&token), TokenDecision::deny(DENY));

        let both = Request::default()
            .with_sign_in(["pwd", "otp", "mfa"], 100)
            .with_grant_type(GrantType::AuthorizationCode);
        assert_eq!(RequireMfa::consent(&both), ConsentDecision::allow());
        assert_eq!(
            RequireMfa::token(&both),
            TokenDecision::allow()
                .claim("seen_amr", vec!["pwd", "otp", "mfa"])
                .claim("seen_auth_time", 100)
        );
    }

    #[test]
    fn a_client_acting_for_itself_is_named() {
        let req = Request::default()
            .with_client("svc", "Billing")
            .without_user();
        assert_eq!(
            RequireMfa::token(&req),
            TokenDecision::allow().claim("seen_client", "svc")
        );
    }
}
