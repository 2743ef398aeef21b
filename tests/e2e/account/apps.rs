//! The apps that hold access to an account: listed with their resource, scopes and times,
//! and revoked, which every instance honours at once.

use reqwest::StatusCode;

use super::*;

on_both_deployments!(
    an_app_is_listed_with_what_it_may_do_and_when,
    revoking_an_app_ends_its_access_everywhere_and_consent_is_asked_again,
);

async fn an_app_is_listed_with_what_it_may_do_and_when(d: &Deployment) {
    let server = &d.first;
    server.add_user(EMAIL);
    let mut browser = Browser::default();
    let page = sign_in(server, &mut browser, EMAIL, PASSWORD).await;
    assert!(
        page.body.contains("No app has access to your account."),
        "{}",
        page.body
    );
    assert!(page.body.contains(EMAIL));
    // Home, where a signed-in person lands, leads here.
    let home = browser.get(&server.url("/")).await;
    assert!(
        home.body.contains("<a class=\"button\" href=\"/account\">"),
        "{}",
        home.body
    );

    let before = unix_now();
    let app = server.connect(EMAIL, Some("read write")).await;
    // A refresh on the other instance is a use of the app too.
    let (status, _) = refresh_outcome(d.second(), &app.client_id, app.refresh_token()).await;
    assert_eq!(status, 200);
    let after = unix_now();

    let page = account_page(d.second(), &mut browser).await;
    let body = &page.body;
    assert!(body.contains("Test App"), "{body}");
    assert!(
        body.contains("(name not verified)"),
        "a registrant's name: {body}"
    );
    assert!(
        body.contains(&format!("<code>{}</code>", server.resource())),
        "{body}"
    );
    for scope in ["read", "write"] {
        assert!(
            body.contains(&format!("<code class=\"scope\">{scope}</code>")),
            "{body}"
        );
    }
    assert!(body.contains("First allowed"), "{body}");
    assert!(body.contains("Last used"), "{body}");
    // First allowed, then last used: both within the test, in that order.
    let t = times(&page);
    assert_eq!(t.len(), 2, "{body}");
    assert!(
        before <= t[0] && t[0] <= t[1] && t[1] <= after,
        "{t:?} not in {before}..{after}"
    );
    // The Revoke button names the app it revokes, and the form carries its client_id.
    assert!(body.contains(&format!("name=\"client_id\" value=\"{}\"", app.client_id)));
    assert!(
        body.contains("aria-label=\"Revoke access for Test App\""),
        "{body}"
    );
}

async fn revoking_an_app_ends_its_access_everywhere_and_consent_is_asked_again(d: &Deployment) {
    let (a, b) = (&d.first, d.second());
    a.add_user(EMAIL);
    let mut app = a.connect(EMAIL, None).await;
    let other = a.connect(EMAIL, None).await;
    let mut browser = std::mem::take(&mut app.browser);
    // The app works on both instances before.
    let (status, refreshed, _) = refresh(b, &app.client_id, app.refresh_token()).await;
    assert_eq!(status, 200, "{refreshed}");
    let rt = str_of(&refreshed, "refresh_token").to_string();
    let at = str_of(&refreshed, "access_token").to_string();
    let first_at = app.access_token().to_string();
    assert_eq!(mcp_status(b, &at).await, StatusCode::OK);

    let page = account_page(a, &mut browser).await;
    let revoked = post_account(
        a,
        &mut browser,
        &page,
        &[("action", "revoke"), ("client_id", &app.client_id)],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    let done = format!("{}/account?done=revoked", a.issuer);
    assert_eq!(revoked.location.as_deref(), Some(done.as_str()));

    // On the other instance at once: the family refuses its refresh token, and every
    // access token it minted is refused by the resource and userinfo.
    assert_eq!(
        refresh_outcome(b, &app.client_id, &rt).await,
        (400, "invalid_grant".to_string())
    );
    for token in [&at, &first_at] {
        assert_eq!(mcp_status(b, token).await, StatusCode::UNAUTHORIZED);
        assert_eq!(userinfo_status(b, token).await, StatusCode::UNAUTHORIZED);
        assert_eq!(mcp_status(a, token).await, StatusCode::UNAUTHORIZED);
    }
    // The other app keeps its access.
    let (status, _) = refresh_outcome(a, &other.client_id, other.refresh_token()).await;
    assert_eq!(status, 200);
    assert_eq!(mcp_status(b, other.access_token()).await, StatusCode::OK);

    let page = browser.get(&b.url("/account?done=revoked")).await;
    assert!(
        page.body
            .contains("The app no longer has access to your account."),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&app.client_id),
        "still listed: {}",
        page.body
    );
    assert!(page.body.contains(&other.client_id), "{}", page.body);

    // The consent is gone: the app's next authorization asks again (on either instance).
    let (_verifier, challenge) = pkce();
    let auth = Authorize {
        client_id: &app.client_id,
        redirect_uri: &app.redirect,
        challenge: &challenge,
        scope: None,
        resource: Some(&a.resource()),
        state: "again",
        extra: vec![],
    };
    let page = browser.get(&auth.url(b)).await;
    let location = page.location.unwrap_or_default();
    assert!(
        location.starts_with(&format!("{}/consent?request=", a.issuer)),
        "not asked again: {} {location}",
        page.status
    );
}

/// A code issued just before the app was revoked is worth nothing after: the consent it
/// stood for is gone.
#[tokio::test]
async fn a_code_issued_before_the_revocation_is_refused() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let grant = CodeGrant::new(&server, EMAIL, None, Some(&server.resource())).await;
    let mut browser = Browser::default();
    let page = sign_in(&server, &mut browser, EMAIL, PASSWORD).await;
    let revoked = post_account(
        &server,
        &mut browser,
        &page,
        &[("action", "revoke"), ("client_id", &grant.client_id)],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert_refused(
        grant.exchange(&server).await,
        400,
        "invalid_grant",
        "a code whose consent was withdrawn",
    );
}
