//! Second factors from the user's side: an authenticator app that reads the `otpauth://`
//! URI off the enrolment page and computes RFC 6238 codes (with `totp-rs`, as the server
//! does), and a connect taken one page at a time, so a test can stop at the code page.

use reqwest::StatusCode;
use serde_json::Value;

use super::{Authorize, Browser, PASSWORD, Page, TestServer, hidden, pkce, query};

/// The authenticator app on the user's phone.
pub struct Authenticator(totp_rs::Totp);

impl Authenticator {
    /// Reads the `otpauth://` link on the enrolment page, as a phone scans its QR code.
    pub fn from_page(html: &str) -> Self {
        let marker = "id=\"otpauth-uri\" href=\"";
        let start = html.find(marker).expect("an otpauth link on the page") + marker.len();
        let end = start + html[start..].find('"').expect("end of the link");
        let uri = html[start..end].replace("&amp;", "&");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        Self(totp_rs::Totp::from_url(&uri).expect("an otpauth URI totp-rs reads"))
    }

    /// The RFC 6238 time step now.
    pub fn step_now() -> i64 {
        lanyard::clock::Clock::now(&lanyard::clock::SystemClock) / 30
    }

    /// The code of time step `step`.
    pub fn code(&self, step: i64) -> String {
        self.0.generate(step as u64 * 30).to_string()
    }

    /// A six-digit code that is none of the codes around now.
    pub fn wrong_code(&self) -> String {
        let now = Self::step_now();
        let near: Vec<String> = (now - 3..=now + 3).map(|s| self.code(s)).collect();
        (0..)
            .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
            .find(|c| !near.contains(c))
            .expect("a wrong code")
    }
}

/// The recovery codes a page lists.
pub fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(str::to_string)
        .collect()
}

/// A first connect taken one page at a time: a client registered, its authorization
/// started in `browser`.
pub struct Journey {
    pub client_id: String,
    pub redirect: String,
    pub verifier: String,
    pub browser: Browser,
    /// Where the last response sent the browser.
    pub at: String,
}

impl TestServer {
    /// Turns on a second factor for the browser's account: reads the page, confirms with
    /// the current code. Returns the app and the recovery codes the page showed.
    pub async fn enrol(&self, browser: &mut Browser) -> (Authenticator, Vec<String>) {
        let page = browser.get(&self.url("/account/totp")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let app = Authenticator::from_page(&page.body);
        let csrf = hidden(&page.body, "csrf_token").expect("csrf_token");
        let code = app.code(Authenticator::step_now());
        let done = browser
            .post(
                &self.url("/account/totp"),
                &[
                    ("csrf_token", &csrf),
                    ("action", "confirm"),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let codes = recovery_codes(&done.body);
        assert_eq!(codes.len(), 10, "{}", done.body);
        (app, codes)
    }

    /// Registers a client and sends a new browser to authorize for `resource`; `at` is the
    /// sign-in page.
    pub async fn journey(&self, resource: &str) -> Journey {
        let redirect = "http://127.0.0.1:9/callback".to_string();
        let client = self.register_client(&redirect).await;
        let client_id = client["client_id"].as_str().expect("client_id").to_string();
        let (verifier, challenge) = pkce();
        let mut browser = Browser::default();
        let auth = Authorize {
            client_id: &client_id,
            redirect_uri: &redirect,
            challenge: &challenge,
            scope: Some("read openid"),
            resource: Some(resource),
            state: "s-mfa",
            extra: vec![],
        };
        let page = browser.get(&auth.url(self)).await;
        let at = self.absolute(&page);
        Journey {
            client_id,
            redirect,
            verifier,
            browser,
            at,
        }
    }

    fn absolute(&self, page: &Page) -> String {
        let loc = page
            .location
            .clone()
            .unwrap_or_else(|| panic!("no redirect: {} {}", page.status, page.body));
        if loc.starts_with('/') {
            self.url(&loc)
        } else {
            loc
        }
    }
}

impl Journey {
    /// Opens the page the browser was sent to, and posts its form with `fields` (and its
    /// CSRF token); the browser goes where the answer sends it. Returns the answer.
    pub async fn submit(&mut self, server: &TestServer, fields: &[(&str, &str)]) -> Page {
        let page = self.browser.get(&self.at).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "GET {}: {}",
            self.at,
            page.body
        );
        self.submit_on(server, &page, fields).await
    }

    /// Posts the form of `page`, the page at `at` the browser already shows.
    pub async fn submit_on(
        &mut self,
        server: &TestServer,
        page: &Page,
        fields: &[(&str, &str)],
    ) -> Page {
        let csrf = hidden(&page.body, "csrf_token").expect("csrf_token");
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend_from_slice(fields);
        let url = self.at.clone();
        let answer = self.browser.post(&url, &form).await;
        if answer.location.is_some() {
            self.at = server.absolute(&answer);
        }
        answer
    }

    /// Signs in with the password on the sign-in page.
    pub async fn password(&mut self, server: &TestServer, email: &str) -> Page {
        assert!(self.at.contains("/login"), "not at sign-in: {}", self.at);
        self.submit(server, &[("email", email), ("password", PASSWORD)])
            .await
    }

    /// Allows on the consent page, if it is asked, and exchanges the code: the tokens.
    pub async fn finish(&mut self, server: &TestServer) -> Value {
        if self.at.contains("/consent") {
            let page = self.submit(server, &[("decision", "allow")]).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        }
        assert!(
            self.at.starts_with(&self.redirect),
            "not back at the app: {}",
            self.at
        );
        let code = query(&self.at)["code"].clone();
        let (status, tokens, _) = server
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &self.verifier),
                ("redirect_uri", &self.redirect),
                ("client_id", &self.client_id),
            ])
            .await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }
}
