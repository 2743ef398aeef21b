//! OAuth from the client's side: PKCE, authorization requests, the whole browser dance
//! from authorize to code exchange, and reading the tokens that come back.

use std::collections::HashMap;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;

use super::{Browser, PASSWORD, TestServer, hidden};

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let mut buf = [0u8; 32];
    aws_lc_rs::rand::fill(&mut buf).expect("rng");
    let verifier = URL_SAFE_NO_PAD.encode(buf);
    let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

/// Decodes a JWT's payload without verifying it (the server's own tests verify).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

pub fn jwt_header(token: &str) -> Value {
    let h = token.split('.').next().expect("jwt header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("b64")).expect("json")
}

/// Query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    let u = url::Url::parse(url).expect("url");
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An authorization request a test is making.
pub struct Authorize<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub challenge: &'a str,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub state: &'a str,
    pub extra: Vec<(&'a str, &'a str)>,
}

impl Authorize<'_> {
    pub fn url(&self, server: &TestServer) -> String {
        let mut u = url::Url::parse(&server.url("/oauth/authorize")).expect("url");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", self.client_id);
            q.append_pair("redirect_uri", self.redirect_uri);
            q.append_pair("code_challenge", self.challenge);
            q.append_pair("code_challenge_method", "S256");
            q.append_pair("state", self.state);
            if let Some(s) = self.scope {
                q.append_pair("scope", s);
            }
            if let Some(r) = self.resource {
                q.append_pair("resource", r);
            }
            for (k, v) in &self.extra {
                q.append_pair(k, v);
            }
        }
        u.to_string()
    }
}

impl TestServer {
    /// The whole browser dance: authorize, sign in, allow. Returns the callback URL.
    pub async fn consent_flow(
        &self,
        browser: &mut Browser,
        auth: &Authorize<'_>,
        email: &str,
    ) -> String {
        let mut page = browser.get(&auth.url(self)).await;
        // Hop through sign-in and consent until the browser is sent back to the client.
        for _ in 0..6 {
            let Some(loc) = page.location.clone() else {
                panic!("flow stopped at {} with {}", page.status, page.body);
            };
            if loc.starts_with(auth.redirect_uri.split('?').next().unwrap_or_default())
                && !loc.starts_with(&self.base)
            {
                return loc;
            }
            let url = if loc.starts_with('/') {
                self.url(&loc)
            } else {
                loc.clone()
            };
            page = browser.get(&url).await;
            if page.status != StatusCode::OK {
                continue;
            }
            let csrf = hidden(&page.body, "csrf_token").expect("csrf_token on page");
            page = if url.contains("/login") {
                browser.post_credentials(&url, email, PASSWORD, &csrf).await
            } else if url.contains("/consent") {
                browser
                    .post(&url, &[("decision", "allow"), ("csrf_token", &csrf)])
                    .await
            } else {
                panic!("unexpected page {url}");
            };
            assert_eq!(
                page.status,
                StatusCode::SEE_OTHER,
                "POST {url}: {}",
                page.body
            );
        }
        panic!("too many hops");
    }

    /// Registers a client, signs a user in and exchanges the code: a full first connect.
    pub async fn connect(&self, email: &str, scope: Option<&str>) -> Connected {
        let redirect = "http://127.0.0.1:9/callback";
        let client = self.register_client(redirect).await;
        let client_id = client["client_id"].as_str().expect("client_id").to_string();
        let (verifier, challenge) = pkce();
        let mut browser = Browser::default();
        let auth = Authorize {
            client_id: &client_id,
            redirect_uri: redirect,
            challenge: &challenge,
            scope,
            resource: Some(&self.resource()),
            state: "s1",
            extra: vec![],
        };
        let callback = self.consent_flow(&mut browser, &auth, email).await;
        let code = query(&callback)["code"].clone();
        let (status, body, _) = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
                ("redirect_uri", redirect),
                ("client_id", &client_id),
                ("resource", &self.resource()),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        Connected {
            client_id,
            redirect: redirect.to_string(),
            tokens: body,
            browser,
        }
    }
}

/// What a first connect leaves a client with.
pub struct Connected {
    pub client_id: String,
    pub redirect: String,
    pub tokens: Value,
    pub browser: Browser,
}

impl Connected {
    pub fn access_token(&self) -> &str {
        self.tokens["access_token"].as_str().expect("access_token")
    }
    pub fn refresh_token(&self) -> &str {
        self.tokens["refresh_token"]
            .as_str()
            .expect("refresh_token")
    }
}
