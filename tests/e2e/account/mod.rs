//! The account page, `/account` (design.md "Endpoints"), end to end: each story runs on the
//! embedded store and on two instances sharing Postgres and Redis, where its steps use
//! both instances (a change made through one is seen by the other at once).
//!
//! - `apps`: the apps that hold access, and revoking one.
//! - `email`: a new address, proven by a mailed link.
//! - `password`: changing the password; CSRF and sign-in around the page.
//! - `sessions`: signing out everywhere.
//! - `deletion`: deleting the account, and what the decision log keeps of it.

mod apps;
mod deletion;
mod email;
mod password;
mod sessions;

use reqwest::StatusCode;

use crate::fixtures::*;
use crate::support::*;

/// `/account` for a browser that is not signed in: to sign in, and back. Returns the
/// account page, signed in as `email`.
pub async fn sign_in(
    server: &TestServer,
    browser: &mut Browser,
    email: &str,
    password: &str,
) -> Page {
    let page = browser.get(&server.url("/account")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let login = format!("{}/login?next=/account", server.issuer);
    assert_eq!(page.location.as_deref(), Some(login.as_str()));
    let form = browser.get(&server.url("/login?next=/account")).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden(&form.body, "csrf_token").expect("csrf_token on /login");
    let page = browser
        .post_credentials(&server.url("/login?next=/account"), email, password, &csrf)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let back = format!("{}/account", server.issuer);
    assert_eq!(page.location.as_deref(), Some(back.as_str()));
    account_page(server, browser).await
}

/// The account page of a signed-in browser.
pub async fn account_page(server: &TestServer, browser: &mut Browser) -> Page {
    let page = browser.get(&server.url("/account")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_unframeable(&page.headers);
    assert_eq!(page.headers["cache-control"], "no-store");
    page
}

/// Posts one of the page's forms with the page's CSRF token.
pub async fn post_account(
    server: &TestServer,
    browser: &mut Browser,
    page: &Page,
    fields: &[(&str, &str)],
) -> Page {
    let csrf = hidden(&page.body, "csrf_token").expect("csrf_token on /account");
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(&server.url("/account"), &form).await
}

/// The page shows `message` as the error of the field `id` (its `<p>` sits next to the
/// input, which is marked invalid, described by it, and focused first).
pub fn assert_field_error(page: &Page, id: &str, message: &str) {
    let error = format!("<p class=\"field-error\" id=\"{id}-error\">{message}</p>");
    assert!(page.body.contains(&error), "no {error} in {}", page.body);
    let input = page
        .body
        .split("<input ")
        .find(|i| i.starts_with(&format!("id=\"{id}\"")))
        .unwrap_or_else(|| panic!("no input #{id}"));
    let input = &input[..input.find('>').unwrap()];
    for attribute in ["aria-invalid=\"true\"", "autofocus", &format!("{id}-error")] {
        assert!(
            input.contains(attribute),
            "#{id} lacks {attribute}: {input}"
        );
    }
    assert_eq!(page.body.matches("class=\"field-error\"").count(), 1);
}

/// The `datetime` of each `<time>` on the page, as Unix seconds.
pub fn times(page: &Page) -> Vec<i64> {
    page.body
        .split("datetime=\"")
        .skip(1)
        .map(|rest| {
            let iso = &rest[..rest.find('"').unwrap()];
            let t =
                time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|e| panic!("{iso}: {e}"));
            t.unix_timestamp()
        })
        .collect()
}

/// Whether a refresh of `refresh_token` works at `server`: the status and the OAuth error.
pub async fn refresh_outcome(
    server: &TestServer,
    client_id: &str,
    refresh_token: &str,
) -> (u16, String) {
    let (status, body, _) = refresh(server, client_id, refresh_token).await;
    (
        status.as_u16(),
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// The status `/oauth/userinfo` answers for `access_token`.
pub async fn userinfo_status(server: &TestServer, access_token: &str) -> StatusCode {
    server
        .http
        .get(server.url("/oauth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
        .status()
}
