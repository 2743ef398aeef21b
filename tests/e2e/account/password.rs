//! Changing the password on the account page, and what guards every change there: the
//! form's CSRF token, sign-in, and the sign-in throttle for wrong passwords.

use reqwest::StatusCode;

use super::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

on_both_deployments!(
    the_password_changes_only_with_the_current_one,
    a_change_without_the_form_token_is_refused,
);

async fn the_password_changes_only_with_the_current_one(d: &Deployment) {
    let (a, b) = (&d.first, d.second());
    a.add_user(EMAIL);
    let mut browser = Browser::default();
    let page = sign_in(a, &mut browser, EMAIL, PASSWORD).await;

    let wrong = post_account(
        b,
        &mut browser,
        &page,
        &[
            ("action", "password"),
            ("current_password", "not my password"),
            ("password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_field_error(
        &wrong,
        "current-password",
        "That is not your current password.",
    );

    let short = post_account(
        b,
        &mut browser,
        &page,
        &[
            ("action", "password"),
            ("current_password", PASSWORD),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert_field_error(
        &short,
        "new-password",
        "Choose a password of at least 8 characters.",
    );

    let changed = post_account(
        b,
        &mut browser,
        &page,
        &[
            ("action", "password"),
            ("current_password", PASSWORD),
            ("password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    let done = format!("{}/account?done=password", a.issuer);
    assert_eq!(changed.location.as_deref(), Some(done.as_str()));
    // A new session came with it: the old page's form token is stale now.
    assert!(
        changed.headers.get("set-cookie").is_some(),
        "no new session"
    );
    let page = browser.get(&a.url("/account?done=password")).await;
    assert!(
        page.body.contains("Your password was changed."),
        "{}",
        page.body
    );
    let stale = post_account(
        a,
        &mut browser,
        &wrong,
        &[("action", "revoke"), ("client_id", "x")],
    )
    .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);

    // Sign-in takes the new password (on either instance), and no longer the old one.
    sign_in(a, &mut Browser::default(), EMAIL, NEW_PASSWORD).await;
    let mut other = Browser::default();
    let form = other.get(&b.url("/login")).await;
    let csrf = hidden(&form.body, "csrf_token").unwrap();
    let old = other
        .post_credentials(&b.url("/login"), EMAIL, PASSWORD, &csrf)
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}

async fn a_change_without_the_form_token_is_refused(d: &Deployment) {
    let server = &d.first;
    server.add_user(EMAIL);
    let mut app = server.connect(EMAIL, None).await;
    let mut browser = std::mem::take(&mut app.browser);
    let page = account_page(server, &mut browser).await;
    let changes: [&[(&str, &str)]; 3] = [
        &[("action", "revoke"), ("client_id", &app.client_id)],
        &[
            ("action", "password"),
            ("current_password", PASSWORD),
            ("password", NEW_PASSWORD),
        ],
        &[("action", "delete"), ("password", PASSWORD)],
    ];
    for fields in changes {
        for csrf in [None, Some("forged-token-forged-token-forged-token")] {
            let mut form = fields.to_vec();
            form.extend(csrf.map(|c| ("csrf_token", c)));
            let refused = browser.post(&d.second().url("/account"), &form).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{fields:?} {csrf:?}");
            assert!(
                refused.body.contains("Your session expired"),
                "{}",
                refused.body
            );
        }
    }
    // Nothing changed: the app still has access, the password and the account stand.
    let (status, _) = refresh_outcome(server, &app.client_id, app.refresh_token()).await;
    assert_eq!(status, 200);
    let page_after = account_page(server, &mut browser).await;
    assert!(page_after.body.contains(&app.client_id));
    sign_in(server, &mut Browser::default(), EMAIL, PASSWORD).await;

    // A form that names no change is refused too, and so is one from a browser that is
    // not signed in (it is sent to sign in).
    let unknown = post_account(server, &mut browser, &page, &[("action", "launch")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let signed_out = Browser::default()
        .post(
            &server.url("/account"),
            &[
                ("csrf_token", csrf.as_str()),
                ("action", "delete"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    let login = format!("{}/login?next=/account", server.issuer);
    assert_eq!(signed_out.location.as_deref(), Some(login.as_str()));
}

/// Wrong current passwords count with wrong sign-ins: after as many as sign-in allows, the
/// page refuses to check more from that address, and so does sign-in.
#[tokio::test]
async fn wrong_passwords_on_the_page_are_throttled_like_sign_in() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let mut browser = Browser::default();
    let page = sign_in(&server, &mut browser, EMAIL, PASSWORD).await;
    let wrong = [
        ("action", "password"),
        ("current_password", "guess"),
        ("password", NEW_PASSWORD),
    ];
    for _ in 0..10 {
        let r = post_account(&server, &mut browser, &page, &wrong).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is not checked now.
    let right = [
        ("action", "password"),
        ("current_password", PASSWORD),
        ("password", NEW_PASSWORD),
    ];
    let locked = post_account(&server, &mut browser, &page, &right).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_field_error(
        &locked,
        "current-password",
        "Too many failed attempts. Try again in 15 minute(s).",
    );
    let delete = [("action", "delete"), ("password", PASSWORD)];
    let locked = post_account(&server, &mut browser, &page, &delete).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_field_error(
        &locked,
        "delete-password",
        "Too many failed attempts. Try again in 15 minute(s).",
    );
    let mut other = Browser::default();
    let form = other.get(&server.url("/login")).await;
    let csrf = hidden(&form.body, "csrf_token").unwrap();
    let signin = other
        .post_credentials(&server.url("/login"), EMAIL, PASSWORD, &csrf)
        .await;
    assert_eq!(signin.status, StatusCode::TOO_MANY_REQUESTS);
}
