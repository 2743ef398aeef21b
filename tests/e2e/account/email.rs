//! Changing the address on the account page: refused for a taken address or without the
//! password; otherwise a link mailed to the new address (through a real SMTP server)
//! moves the account there, once, and the previous address is told.

use reqwest::StatusCode;

use super::*;
use crate::mail::{assert_readable, mailing_server};
use crate::support::on_both_stores;

const NEW_ADDRESS: &str = "ada.new@example.com";
const TAKEN: &str = "taken@example.com";

on_both_stores!(an_address_changes_once_its_link_is_followed);

async fn an_address_changes_once_its_link_is_followed(store: &[(&str, &str)]) {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let server = mailing_server(store, &sink.smtp_url(), &[]).await;
    server.add_user(EMAIL);
    server.add_user(TAKEN);
    let mut browser = Browser::default();
    let page = sign_in(&server, &mut browser, EMAIL, PASSWORD).await;
    assert!(
        page.body.contains("name=\"action\" value=\"email\""),
        "{}",
        page.body
    );
    let change = |to: &'static str, password: &'static str| {
        [
            ("action", "email"),
            ("email", to),
            ("current_password", password),
        ]
    };

    let taken = post_account(&server, &mut browser, &page, &change(TAKEN, PASSWORD)).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_field_error(
        &taken,
        "new-email",
        "That address belongs to another account.",
    );
    let same = post_account(&server, &mut browser, &page, &change(EMAIL, PASSWORD)).await;
    assert_eq!(same.status, StatusCode::BAD_REQUEST);
    assert_field_error(&same, "new-email", "That is already your address.");
    let wrong = post_account(
        &server,
        &mut browser,
        &page,
        &change(NEW_ADDRESS, "nope nope"),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_field_error(
        &wrong,
        "email-password",
        "That is not your current password.",
    );

    let asked = post_account(&server, &mut browser, &page, &change(NEW_ADDRESS, PASSWORD)).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    let after = format!("{}/account?done=email", server.issuer);
    assert_eq!(asked.location.as_deref(), Some(after.as_str()));
    let page = browser.get(&after).await;
    assert!(
        page.body.contains("Your address changes when you open it."),
        "{}",
        page.body
    );
    // Nothing changes before the link is followed.
    assert!(
        page.body
            .contains(&format!("Signed in as <strong>{EMAIL}</strong>"))
    );
    let mail = sink.next_for(NEW_ADDRESS, 0).await;
    assert_readable(&server, &mail);
    let subject = mail["subject"].as_str().unwrap();
    assert!(subject.contains("Confirm your new email address"), "{mail}");
    let link = link_in(
        mail["text"].as_str().unwrap(),
        &server.url("/account/email?token="),
    );

    // The link works from any browser (it is the mailbox that proves the address), once.
    let mut elsewhere = Browser::default();
    let done = elsewhere.get(&link).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body.contains("Your address is changed"),
        "{}",
        done.body
    );
    let again = elsewhere.get(&link).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.body.contains("This link does not work"),
        "{}",
        again.body
    );

    let told = sink.next_for(EMAIL, 0).await;
    assert_readable(&server, &told);
    let text = told["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("was changed to {NEW_ADDRESS}")),
        "{told}"
    );

    let page = account_page(&server, &mut browser).await;
    assert!(
        page.body
            .contains(&format!("Signed in as <strong>{NEW_ADDRESS}</strong>"))
    );
    // The new address signs in, the old one no longer does; the new one is verified.
    let mut fresh = Browser::default();
    sign_in(&server, &mut fresh, NEW_ADDRESS, PASSWORD).await;
    let old = Browser::default().get(&server.url("/login")).await;
    let csrf = hidden(&old.body, "csrf_token").unwrap();
    let refused = Browser::default()
        .post_credentials(&server.url("/login"), EMAIL, PASSWORD, &csrf)
        .await;
    assert_ne!(refused.status, StatusCode::SEE_OTHER, "{}", refused.body);
    let listed = server.cli_json(&["user", "verify", NEW_ADDRESS]);
    assert_eq!(listed["email_verified"], true, "{listed}");
}
