//! Discovery: RFC 8414 and OIDC metadata, RFC 9728 protected-resource metadata, JWKS, and
//! the CORS that browser-based clients (the MCP Inspector) need to read them.

use std::net::TcpListener;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::fixtures::*;
use crate::support::*;

fn as_metadata(base: &str) -> Value {
    // private_key_jwt: metadata-document clients that publish keys sign assertions
    // (ChatGPT uses it when it is listed, and `none` otherwise).
    let auth_methods = json!([
        "none",
        "client_secret_post",
        "client_secret_basic",
        "private_key_jwt"
    ]);
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "registration_endpoint": format!("{base}/oauth/register"),
        "jwks_uri": format!("{base}/oauth/jwks"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "userinfo_endpoint": format!("{base}/oauth/userinfo"),
        // offline_access listed: Claude asks for refresh tokens only when it is (checklist §6.11).
        "scopes_supported": ["read", "write", "openid", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        // MCP 2025-11-25: clients refuse an AS that does not publish this.
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        // RFC 8414 §2: required once private_key_jwt is listed.
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "client_id_metadata_document_supported": true,
        // RFC 9207 §3: advertised because every authorization response carries iss.
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "amr", "nonce", "email", "email_verified"],
        "service_documentation": format!("{base}/"),
    })
}

#[tokio::test]
async fn authorization_server_metadata_is_exact() {
    let server = TestServer::spawn().await;
    // RFC 8414 §3: issuer without a path, so the well-known suffix is bare.
    let r = server
        .http
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    let h = assert_json(r, 200, as_metadata(&server.base)).await;
    assert_cors(&h);
}

#[tokio::test]
async fn openid_configuration_states_the_same_facts() {
    let server = TestServer::spawn().await;
    // MCP 2025-11-25: an AS offering OIDC Discovery must include code_challenge_methods_supported.
    let mut expected = as_metadata(&server.base);
    expected["claim_types_supported"] = json!(["normal"]);
    let r = server
        .http
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    let h = assert_json(r, 200, expected).await;
    assert_cors(&h);
}

#[tokio::test]
async fn protected_resource_metadata_at_path_suffixed_and_root_urls() {
    let server = TestServer::spawn().await;
    let expected = json!({
        "resource": server.resource(),
        "authorization_servers": [server.base],
        // MCP 2026-07-28: offline_access is the AS's business, never the resource's.
        "scopes_supported": ["read", "write"],
        "bearer_methods_supported": ["header"],
        "jwks_uri": server.url("/oauth/jwks"),
        "resource_name": "Lanyard example MCP server",
    });
    // RFC 9728 §3.1: path-suffixed first, then the root form (checklist §1.4).
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = server.http.get(server.url(path)).send().await.unwrap();
        let h = assert_json(r, 200, expected.clone()).await;
        assert_cors(&h);
    }
}

#[tokio::test]
async fn issuer_is_byte_identical_across_prm_metadata_jwt_and_redirect() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let (_, prm) = server
        .get_json("/.well-known/oauth-protected-resource/mcp")
        .await;
    let (_, meta) = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    let (_, oidc) = server.get_json("/.well-known/openid-configuration").await;
    let grant = CodeGrant::new(&server, EMAIL, Some("openid read"), None).await;
    let tokens = grant.tokens(&server).await;

    let issuer = str_of(&meta, "issuer").to_string();
    // RFC 8414 §3.3 / MCP 2026-07-28: the same string, trailing slash and all.
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    assert_eq!(oidc["issuer"], issuer);
    assert_eq!(jwt_claims(str_of(&tokens, "access_token"))["iss"], issuer);
    assert_eq!(jwt_claims(str_of(&tokens, "id_token"))["iss"], issuer);
    // RFC 9207 §2: the iss parameter of the authorization response.
    assert_eq!(query(&grant.callback)["iss"], issuer);
    assert_eq!(issuer, server.base);
}

#[tokio::test]
async fn issuer_with_a_path_is_discoverable_at_every_url_clients_try() {
    // The kit picks its own port; a path issuer needs it up front.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let issuer = format!("{origin}/tenant1");
    let listen = format!("127.0.0.1:{port}");
    let server = TestServer::spawn_with(&[
        ("LANYARD_LISTEN", &listen),
        ("LANYARD_ISSUER", &format!("{issuer}/")),
    ])
    .await;

    // Checklist §1.4, in the order the SDKs try them; the trailing slash configured above is
    // gone from the published issuer.
    let expected = as_metadata(&issuer);
    for path in [
        "/.well-known/oauth-authorization-server/tenant1",
        "/.well-known/openid-configuration/tenant1",
        "/tenant1/.well-known/openid-configuration",
    ] {
        let r = server
            .http
            .get(format!("{origin}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let mut body: Value = r.json().await.unwrap();
        if path.contains("openid") {
            assert_eq!(body["claim_types_supported"], json!(["normal"]));
            body.as_object_mut()
                .unwrap()
                .remove("claim_types_supported");
        }
        assert_eq!(body, expected, "{path}");
    }
    let r = server
        .http
        .get(format!(
            "{origin}/.well-known/oauth-protected-resource/tenant1/mcp"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let prm: Value = r.json().await.unwrap();
    assert_eq!(prm["resource"], format!("{issuer}/mcp"));
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    // Endpoints under the issuer path answer.
    let r = server
        .http
        .get(format!("{issuer}/oauth/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unknown_well_known_paths_are_404_json() {
    let server = TestServer::spawn().await;
    // The TS SDK moves on after a 4xx, but an HTML 200 sends it down the wrong branch.
    for path in [
        "/.well-known/x",
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/oauth-protected-resource/nope",
        "/tenant/.well-known/openid-configuration",
    ] {
        let r = server.http.get(server.url(path)).send().await.unwrap();
        assert_json(
            r,
            404,
            json!({"error": "not_found", "error_description": "no such endpoint"}),
        )
        .await;
    }
}

#[tokio::test]
async fn jwks_publishes_the_signing_key_and_verifies_the_access_token() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    let r = server
        .http
        .get(server.url("/oauth/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_cors(r.headers());
    assert_eq!(r.headers()["content-type"], "application/json");
    let jwks: Value = r.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // The current key and the next one, published before it signs anything.
    assert_eq!(keys.len(), 2, "{jwks}");
    for k in keys {
        let mut names: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
        names.sort_unstable();
        // Public members only: no d, p, q, dp, dq, qi.
        assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"], "{k}");
        assert_eq!(k["alg"], "RS256");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["kty"], "RSA");
        // RFC 7638 thumbprint as kid: stable across restarts and instances.
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            str_of(k, "e"),
            str_of(k, "n")
        );
        assert_eq!(
            k["kid"],
            URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
        );
    }

    // RFC 9068 §2.1 header; the kid names a published key, which verifies the signature.
    let header = jwt_header(c.access_token());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let key = keys
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("access token kid is in JWKS");
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_components(str_of(key, "n"), str_of(key, "e")).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[&server.base]);
    v.set_audience(&[server.resource()]);
    let verified = jsonwebtoken::decode::<Value>(c.access_token(), &decoding, &v)
        .expect("signature verifies with the JWKS key");
    assert_eq!(verified.claims["client_id"], c.client_id);
}

#[tokio::test]
async fn cors_preflight_and_headers_on_every_public_endpoint() {
    let server = TestServer::spawn().await;
    let paths = [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/oauth/jwks",
        "/oauth/register",
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/userinfo",
        "/mcp",
    ];
    for path in paths {
        // The Inspector's preflight (inspector#817; sentry-mcp#999 for the token endpoint).
        let r = server
            .http
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,mcp-protocol-version",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
        assert_cors(r.headers());
        let methods = header(r.headers(), "access-control-allow-methods");
        assert!(
            methods.contains("GET") && methods.contains("POST"),
            "{path}: {methods}"
        );
        let allowed = header(r.headers(), "access-control-allow-headers").to_ascii_lowercase();
        assert!(
            allowed.contains("content-type") && allowed.contains("mcp-protocol-version"),
            "{path}: {allowed}"
        );
    }
    // The actual responses carry it too, errors included.
    for path in ["/oauth/register", "/oauth/token", "/oauth/revoke"] {
        let r = server
            .http
            .post(server.url(path))
            .header("origin", "http://localhost:6274")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        assert_cors(r.headers());
    }
    let r = server
        .http
        .get(server.url("/oauth/userinfo"))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_cors(r.headers());
    // A client reading the challenge from a browser must be allowed to see it.
    let r = server
        .http
        .post(server.resource())
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_cors(r.headers());
    assert!(
        header(r.headers(), "access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("www-authenticate")
    );
}
