//! "Sign out everywhere" on the account page: every browser session of the account ends
//! at once, on every instance, the asking browser's too; other accounts keep theirs.

use reqwest::StatusCode;

use super::*;

on_both_deployments!(signing_out_everywhere_ends_every_session_of_the_account);

async fn signing_out_everywhere_ends_every_session_of_the_account(d: &Deployment) {
    let (a, b) = (&d.first, d.second());
    a.add_user(EMAIL);
    a.add_user("other@example.com");
    let (mut here, mut there, mut other) =
        (Browser::default(), Browser::default(), Browser::default());
    let page = sign_in(a, &mut here, EMAIL, PASSWORD).await;
    sign_in(b, &mut there, EMAIL, PASSWORD).await;
    sign_in(b, &mut other, "other@example.com", PASSWORD).await;

    let out = post_account(b, &mut here, &page, &[("action", "sign_out_everywhere")]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    let login = format!("{}/login", a.issuer);
    assert_eq!(out.location.as_deref(), Some(login.as_str()));

    for (server, browser) in [(a, &mut here), (b, &mut there)] {
        let page = browser.get(&server.url("/account")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "still signed in");
    }
    // The browser that did not ask is signed out on either instance.
    let page = there.get(&a.url("/account")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "still signed in");
    account_page(a, &mut other).await;
    // Signing in again works as ever.
    sign_in(a, &mut here, EMAIL, PASSWORD).await;
}
