//! Native tests: the policy's contract, phase by phase, called through the `Policy` trait
//! with the same plain types the component sees.

use lanyard_policy::{ClaimValue, ConsentDecision, GrantType, Policy, Request, TokenDecision};
use serde_json::{Value, json};

use super::{LAPSED_DENY, LAPSED_NOTICE, PurchaseTier};

const MCP: &str = "https://api.example.com/mcp";
const OTHER: &str = "https://other.example.com/mcp";
const PRO_NOTICE: &str = "Write access needs the Pro plan.";

fn config() -> Value {
    json!({
        "default": "free",
        "tiers": {
            "free": {"drop_scopes": ["write", "admin"], "notice": PRO_NOTICE},
            "pro": {"entitlements": ["export", "priority"]},
            "team": {"drop_scopes": ["admin"]},
        }
    })
}

fn request(metadata: Value, scopes: &[&str]) -> Request {
    Request::default()
        .with_sub("user-1")
        .with_email("ada@example.com")
        .with_resource(MCP)
        .with_scopes(scopes.iter().copied())
        .with_metadata(metadata)
        .with_config(config())
}

fn token(req: Request) -> TokenDecision {
    PurchaseTier::token(&req.with_grant_type(GrantType::RefreshToken))
}

mod token_phase {
    use super::*;

    #[test]
    fn pro_user_gets_tier_and_entitlements_and_keeps_every_scope() {
        let d = token(request(json!({"tiers": {MCP: "pro"}}), &["read", "write"]));
        assert_eq!(
            d,
            TokenDecision::allow()
                .claim("tier", "pro")
                .claim("entitlements", ["export", "priority"])
        );
    }

    #[test]
    fn a_client_acting_for_itself_gets_the_default_tier() {
        let req = request(json!({"tiers": {MCP: "pro"}}), &["read", "write"]).without_user();
        assert_eq!(
            PurchaseTier::token(&req),
            TokenDecision::allow()
                .claim("tier", "free")
                .drop_scope("write")
        );
    }

    #[test]
    fn user_without_a_tier_gets_the_default_and_loses_its_requested_drop_scopes() {
        let d = token(request(json!({}), &["read", "write"]));
        assert_eq!(
            d,
            TokenDecision::allow()
                .claim("tier", "free")
                .drop_scope("write")
        );
        assert_eq!(
            d.claim_value("entitlements"),
            None,
            "free has no entitlements"
        );
    }

    #[test]
    fn only_requested_scopes_are_dropped() {
        let d = token(request(json!({}), &["read"]));
        assert_eq!(d, TokenDecision::allow().claim("tier", "free"));

        let d = token(request(json!({}), &["admin", "read", "write"]));
        assert_eq!(d.dropped_scopes(), ["write", "admin"]);
    }

    #[test]
    fn a_tier_for_another_resource_does_not_apply() {
        let d = token(request(json!({"tiers": {OTHER: "pro"}}), &["write"]));
        assert_eq!(
            d.claim_value("tier"),
            Some(&ClaimValue::Text("free".into()))
        );
        assert_eq!(d.dropped_scopes(), ["write"]);
    }

    #[test]
    fn an_unconfigured_tier_name_is_treated_as_the_default() {
        let d = token(request(json!({"tiers": {MCP: "platinum"}}), &["write"]));
        assert_eq!(
            d,
            TokenDecision::allow()
                .claim("tier", "free")
                .drop_scope("write")
        );
    }

    #[test]
    fn tier_names_and_scopes_with_json_escapes_are_read_as_their_text() {
        let tier = "pro \"plus\" \u{e9}";
        let req = request(json!({"tiers": {MCP: tier}}), &["read", "write/\\all"])
            .with_config(json!({"tiers": {"free": {}, tier: {"drop_scopes": ["write/\\all"]}}}));
        assert!(
            req.config.contains(r#"\"plus\""#),
            "the config holds escapes"
        );
        assert_eq!(
            token(req),
            TokenDecision::allow()
                .claim("tier", tier)
                .drop_scope("write/\\all")
        );
    }

    #[test]
    fn a_tier_without_entitlements_adds_no_entitlements_claim() {
        let d = token(request(
            json!({"tiers": {MCP: "team"}}),
            &["admin", "write"],
        ));
        assert_eq!(
            d,
            TokenDecision::allow()
                .claim("tier", "team")
                .drop_scope("admin")
        );
    }

    #[test]
    fn lapsed_subscription_is_denied_at_refresh() {
        let req = request(json!({"tiers": {MCP: "pro"}, "lapsed": [MCP]}), &["read"]);
        let d = PurchaseTier::token(&req.with_grant_type(GrantType::RefreshToken));
        assert_eq!(d, TokenDecision::deny(LAPSED_DENY));
    }

    #[test]
    fn lapsed_subscription_is_denied_at_code_exchange_too() {
        let req = request(json!({"lapsed": [MCP]}), &["read"]);
        let d = PurchaseTier::token(&req.with_grant_type(GrantType::AuthorizationCode));
        assert_eq!(d.deny_reason(), Some(LAPSED_DENY));
    }

    #[test]
    fn a_lapse_on_another_resource_does_not_deny() {
        let d = token(request(
            json!({"tiers": {MCP: "pro"}, "lapsed": [OTHER]}),
            &["read"],
        ));
        assert!(d.is_allow());
        assert_eq!(d.claim_value("tier"), Some(&ClaimValue::Text("pro".into())));
    }

    #[test]
    fn default_defaults_to_free() {
        let req = request(json!({}), &["write"])
            .with_config(json!({"tiers": {"free": {"drop_scopes": ["write"]}}}));
        assert_eq!(
            token(req),
            TokenDecision::allow()
                .claim("tier", "free")
                .drop_scope("write")
        );
    }

    #[test]
    fn metadata_keys_of_other_policies_are_ignored() {
        let meta = json!({"org": {"id": "org_x", "role": "admin"}, "tiers": {MCP: "pro"}});
        assert!(token(request(meta, &["read"])).is_allow());
    }

    #[test]
    fn blank_metadata_means_the_default_tier() {
        let mut req = request(json!({}), &["write"]);
        req.user_mut().metadata = String::new();
        assert_eq!(
            token(req).claim_value("tier"),
            Some(&ClaimValue::Text("free".into()))
        );
    }
}

mod consent_phase {
    use super::*;

    #[test]
    fn free_user_asking_for_write_loses_it_and_sees_the_notice() {
        let d = PurchaseTier::consent(&request(json!({}), &["read", "write"]));
        assert_eq!(
            d,
            ConsentDecision::allow()
                .drop_scope("write")
                .notice(PRO_NOTICE)
        );
    }

    #[test]
    fn free_user_asking_for_nothing_withheld_sees_no_notice() {
        let d = PurchaseTier::consent(&request(json!({}), &["read"]));
        assert_eq!(d, ConsentDecision::allow());
    }

    #[test]
    fn pro_user_is_unchanged() {
        let d = PurchaseTier::consent(&request(json!({"tiers": {MCP: "pro"}}), &["read", "write"]));
        assert_eq!(d, ConsentDecision::allow());
    }

    #[test]
    fn a_tier_that_withholds_nothing_always_shows_its_notice() {
        let req = request(json!({"tiers": {MCP: "pro"}}), &["read"]).with_config(json!({
            "tiers": {"free": {}, "pro": {"notice": "Thanks for being a Pro customer."}}
        }));
        assert_eq!(
            PurchaseTier::consent(&req),
            ConsentDecision::allow().notice("Thanks for being a Pro customer.")
        );
    }

    #[test]
    fn lapsed_user_gets_a_notice_not_a_deny() {
        let req = request(
            json!({"tiers": {MCP: "pro"}, "lapsed": [MCP]}),
            &["read", "write"],
        );
        assert_eq!(
            PurchaseTier::consent(&req),
            ConsentDecision::allow().notice(LAPSED_NOTICE)
        );
    }

    #[test]
    fn lapsed_free_user_gets_both_notices_and_the_drop() {
        let req = request(json!({"lapsed": [MCP]}), &["write"]);
        assert_eq!(
            PurchaseTier::consent(&req),
            ConsentDecision::allow()
                .notice(LAPSED_NOTICE)
                .drop_scope("write")
                .notice(PRO_NOTICE)
        );
    }
}

mod bad_input {
    use super::*;

    const BAD_METADATA: &str =
        "Your account settings could not be read. Please contact the administrator.";
    const BAD_CONFIG: &str =
        "This service's access policy is misconfigured. Please contact the administrator.";

    fn both_phases(req: &Request) -> (Option<String>, Option<String>) {
        let consent = PurchaseTier::consent(req);
        let token = PurchaseTier::token(&req.clone().with_grant_type(GrantType::RefreshToken));
        (
            consent.deny_reason().map(str::to_owned),
            token.deny_reason().map(str::to_owned),
        )
    }

    fn denied_with(req: &Request, reason: &str) {
        let (consent, token) = both_phases(req);
        assert_eq!(consent.as_deref(), Some(reason), "consent");
        assert_eq!(token.as_deref(), Some(reason), "token");
    }

    #[test]
    fn metadata_that_is_not_json_denies() {
        let mut req = request(json!({}), &["read"]);
        req.user_mut().metadata = "{\"tiers\":".into();
        denied_with(&req, BAD_METADATA);
    }

    #[test]
    fn metadata_of_the_wrong_shape_denies() {
        denied_with(&request(json!({"tiers": "pro"}), &["read"]), BAD_METADATA);
        denied_with(
            &request(json!({"tiers": {MCP: 3}}), &["read"]),
            BAD_METADATA,
        );
        denied_with(&request(json!({"lapsed": MCP}), &["read"]), BAD_METADATA);
        denied_with(&request(json!(null), &["read"]), BAD_METADATA);
    }

    #[test]
    fn a_default_naming_no_configured_tier_denies() {
        let req = request(json!({}), &["read"])
            .with_config(json!({"default": "basic", "tiers": {"free": {}}}));
        denied_with(&req, BAD_CONFIG);
        denied_with(
            &request(json!({}), &["read"]).with_config(json!({})),
            BAD_CONFIG,
        );
    }

    #[test]
    fn a_misspelt_config_key_denies_instead_of_granting() {
        let req = request(json!({}), &["write"])
            .with_config(json!({"tiers": {"free": {"drop_scope": ["write"]}}}));
        denied_with(&req, BAD_CONFIG);
    }

    #[test]
    fn config_that_is_not_json_denies() {
        let mut req = request(json!({}), &["read"]);
        req.config = "default = 'free'".into();
        denied_with(&req, BAD_CONFIG);
    }

    #[test]
    fn hostile_json_never_panics() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let inputs = [
            "",
            "null",
            "[]",
            "\"x\"",
            "1e999",
            "-0",
            "{}",
            "{\"tiers\":{}}",
            "{\"default\":null}",
            "\u{0}",
            "{\"tiers\":{\"\":\"\"}}",
            &deep,
        ];
        for text in inputs {
            let mut req = request(json!({}), &["read", "write"]);
            req.user_mut().metadata = text.to_owned();
            let _ = both_phases(&req);
            let mut req = request(json!({}), &["read", "write"]);
            req.config = text.to_owned();
            let _ = both_phases(&req);
        }
    }
}
