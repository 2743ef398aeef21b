//! Native tests: the policy's contract, phase by phase, called through the `Policy` trait
//! with the same plain types the component sees.

use lanyard_policy::{ConsentDecision, GrantType, Policy, Request, TokenDecision};
use serde_json::{Value, json};

use super::{NO_ORG_DENY, OrgMembership};

const BAD_METADATA: &str =
    "Your account settings could not be read. Please contact the administrator.";
const BAD_CONFIG: &str =
    "This service's access policy is misconfigured. Please contact the administrator.";

fn config(require_org: bool) -> Value {
    json!({
        "domains": {"example.com": "org_example", "Partner.IO": "org_partner"},
        "require_org": require_org,
    })
}

fn request(email: &str, metadata: Value, config: Value) -> Request {
    Request::default()
        .with_sub("user-1")
        .with_email(email)
        .with_email_verified(true)
        .with_resource("https://api.example.com/mcp")
        .with_scopes(["read"])
        .with_metadata(metadata)
        .with_config(config)
}

fn token(req: &Request) -> TokenDecision {
    OrgMembership::token(&req.clone().with_grant_type(GrantType::AuthorizationCode))
}

fn member_of(org: &str, role: &str) -> TokenDecision {
    TokenDecision::allow()
        .claim("org_id", org)
        .claim("org_role", role)
}

mod membership {
    use super::*;

    #[test]
    fn an_unverified_email_domain_grants_no_org() {
        // Anyone can sign up as someone@example.com; only a vouched-for address counts.
        let req = request("eve@example.com", json!({}), config(true)).with_email_verified(false);
        assert!(matches!(token(&req), TokenDecision::Deny(_)));
        let open = request("eve@example.com", json!({}), config(false)).with_email_verified(false);
        assert_eq!(token(&open), TokenDecision::allow());
        let assigned = request(
            "eve@example.com",
            json!({"org": {"id": "org_x"}}),
            config(true),
        )
        .with_email_verified(false);
        assert_eq!(token(&assigned), member_of("org_x", "member"));
    }

    #[test]
    fn email_domain_maps_to_an_org_as_member() {
        let req = request("ada@example.com", json!({}), config(true));
        assert_eq!(token(&req), member_of("org_example", "member"));
        assert_eq!(OrgMembership::consent(&req), ConsentDecision::allow());
    }

    #[test]
    fn domains_match_case_insensitively_on_both_sides() {
        let req = request("Ada@EXAMPLE.Com", json!({}), config(true));
        assert_eq!(token(&req), member_of("org_example", "member"));
        let req = request("bob@partner.io", json!({}), config(true));
        assert_eq!(token(&req), member_of("org_partner", "member"));
    }

    #[test]
    fn metadata_org_wins_over_the_email_domain() {
        let meta = json!({"org": {"id": "org_x", "role": "admin"}});
        let req = request("ada@example.com", meta, config(true));
        assert_eq!(token(&req), member_of("org_x", "admin"));
    }

    #[test]
    fn metadata_org_without_a_role_is_a_member() {
        let req = request(
            "ada@nowhere.test",
            json!({"org": {"id": "org_x"}}),
            config(true),
        );
        assert_eq!(token(&req), member_of("org_x", "member"));
    }

    #[test]
    fn a_null_metadata_org_falls_back_to_the_domain() {
        let req = request("ada@example.com", json!({"org": null}), config(true));
        assert_eq!(token(&req), member_of("org_example", "member"));
    }

    #[test]
    fn metadata_keys_of_other_policies_are_ignored() {
        let meta = json!({"tiers": {"https://api.example.com/mcp": "pro"}, "org": {"id": "org_x", "role": "owner", "name": "X"}});
        let req = request("ada@example.com", meta, config(true));
        assert_eq!(token(&req), member_of("org_x", "owner"));
    }

    #[test]
    fn the_same_claims_at_refresh() {
        let req = request("ada@example.com", json!({}), config(true))
            .with_grant_type(GrantType::RefreshToken);
        assert_eq!(
            OrgMembership::token(&req),
            member_of("org_example", "member")
        );
    }
}

mod domain_matching_is_exact {
    use super::*;

    fn no_org(email: &str) {
        let req = request(email, json!({}), config(true));
        assert_eq!(token(&req), TokenDecision::deny(NO_ORG_DENY), "{email}");
        assert_eq!(
            OrgMembership::consent(&req),
            ConsentDecision::deny(NO_ORG_DENY),
            "{email}"
        );
    }

    #[test]
    fn subdomains_and_lookalikes_do_not_match() {
        no_org("ada@sub.example.com");
        no_org("ada@example.com.evil.test");
        no_org("ada@notexample.com");
        no_org("ada@example.co");
    }

    #[test]
    fn only_the_part_after_the_last_at_counts() {
        no_org("\"ada@example.com\"@evil.test");
        let req = request("\"x@evil.test\"@example.com", json!({}), config(true));
        assert_eq!(token(&req), member_of("org_example", "member"));
    }

    #[test]
    fn addresses_without_a_domain_have_no_org() {
        no_org("ada");
        no_org("ada@");
        no_org("");
    }
}

mod without_an_org {
    use super::*;

    #[test]
    fn require_org_denies_at_both_phases() {
        let req = request("ada@gmail.com", json!({}), config(true));
        assert_eq!(
            OrgMembership::consent(&req),
            ConsentDecision::deny(NO_ORG_DENY)
        );
        assert_eq!(token(&req), TokenDecision::deny(NO_ORG_DENY));
    }

    #[test]
    fn without_require_org_the_user_is_allowed_without_claims() {
        let req = request("ada@gmail.com", json!({}), config(false));
        assert_eq!(OrgMembership::consent(&req), ConsentDecision::allow());
        assert_eq!(token(&req), TokenDecision::allow());
    }

    #[test]
    fn a_client_acting_for_itself_belongs_to_no_org() {
        let req = request("ada@example.com", json!({}), config(true)).without_user();
        assert_eq!(OrgMembership::token(&req), TokenDecision::deny(NO_ORG_DENY));
        let req = request("ada@example.com", json!({}), config(false)).without_user();
        assert_eq!(OrgMembership::token(&req), TokenDecision::allow());
    }

    #[test]
    fn require_org_defaults_to_false() {
        let req = request("ada@gmail.com", json!({}), json!({"domains": {}}));
        assert_eq!(token(&req), TokenDecision::allow());
        let req = request("ada@gmail.com", json!({}), json!({}));
        assert_eq!(token(&req), TokenDecision::allow());
    }

    #[test]
    fn the_deny_reason_speaks_to_the_user() {
        assert!(NO_ORG_DENY.contains("organization"));
        assert!(
            !NO_ORG_DENY.contains("require_org"),
            "no config names in user text"
        );
    }
}

mod bad_input {
    use super::*;

    fn denied_with(req: &Request, reason: &str) {
        assert_eq!(
            OrgMembership::consent(req).deny_reason(),
            Some(reason),
            "consent"
        );
        assert_eq!(token(req).deny_reason(), Some(reason), "token");
    }

    #[test]
    fn malformed_metadata_denies_even_when_the_domain_would_match() {
        let mut req = request("ada@example.com", json!({}), config(false));
        req.user_mut().metadata = "{\"org\":".into();
        denied_with(&req, BAD_METADATA);
        for meta in [
            json!({"org": "org_x"}),
            json!({"org": {"role": "admin"}}),
            json!({"org": {"id": 7}}),
            json!({"org": {"id": "org_x", "role": ["admin"]}}),
            json!({"org": {"id": "  "}}),
            json!({"org": {"id": "org_x", "role": ""}}),
            json!(null),
        ] {
            denied_with(
                &request("ada@example.com", meta, config(false)),
                BAD_METADATA,
            );
        }
    }

    #[test]
    fn malformed_config_denies() {
        for config in [
            json!({"domains": ["example.com"]}),
            json!({"domains": {"example.com": 1}}),
            json!({"require_org": "yes"}),
            json!({"requires_org": true}),
            json!({"domains": {"example.com": ""}}),
            json!("org_example"),
        ] {
            denied_with(&request("ada@example.com", json!({}), config), BAD_CONFIG);
        }
        let mut req = request("ada@example.com", json!({}), config(true));
        req.config = "{".into();
        denied_with(&req, BAD_CONFIG);
    }

    #[test]
    fn hostile_input_never_panics() {
        let deep = "{\"org\":".repeat(50_000);
        let texts = [
            "",
            "null",
            "0",
            "\"\"",
            "{\"org\":{}}",
            "\u{feff}{}",
            deep.as_str(),
        ];
        let emails = [
            "",
            "@",
            "@@",
            "a@b@",
            "ü@ÉXAMPLE.com",
            "\u{0}@example.com",
            &"@".repeat(10_000),
        ];
        for text in texts {
            for email in emails {
                let mut req = request(email, json!({}), config(true));
                req.user_mut().metadata = text.to_owned();
                let _ = (OrgMembership::consent(&req), token(&req));
                let mut req = request(email, json!({}), config(true));
                req.config = text.to_owned();
                let _ = (OrgMembership::consent(&req), token(&req));
            }
        }
    }
}
