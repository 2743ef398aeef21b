//! Second factors end to end (issue 17): TOTP enrolment on `/account/totp`, the code page
//! at sign-in, codes that work once, recovery codes, throttling, `LANYARD_MFA=required`
//! in the middle of an authorization, `amr`/`auth_time` in the tokens, and `lanyard user
//! reset-mfa`; each story on the embedded store and on Postgres + Redis.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::unix_now;
use crate::support::*;

/// What a production server needs for second factors: the key they are sealed under.
const KEY: (&str, &str) = (
    "LANYARD_ENCRYPTION_KEY",
    "a-test-key-of-at-least-thirty-two-characters",
);

/// The access token's claims.
fn access(tokens: &Value) -> Value {
    jwt_claims(tokens["access_token"].as_str().expect("access_token"))
}

fn id_token(tokens: &Value) -> Value {
    jwt_claims(tokens["id_token"].as_str().expect("id_token"))
}

/// The token says when the user signed in: a moment ago.
fn signed_in_lately(claims: &Value) -> i64 {
    let t = claims["auth_time"].as_i64().expect("auth_time");
    assert!((unix_now() - 120..=unix_now()).contains(&t), "{claims}");
    t
}

/// A code refused on the code page: 401, the message beside the field, still not signed in.
fn assert_code_refused(page: &Page) {
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    let error = page.body.find("id=\"code-error\"").expect("an error");
    let field = page.body.find("name=\"code\"").expect("the code field");
    assert!(error < field, "the error sits just above the field");
    assert!(page.body.contains("aria-describedby=\"code-error\""));
    assert!(
        page.body.contains("That code is not right"),
        "{}",
        page.body
    );
}

async fn second_factor_story(server: &TestServer) {
    let email = "totp@example.com";
    server.add_user(email);

    // No second factor yet: the password alone signs in, and the tokens say so.
    let mut first = server.journey(&server.resource()).await;
    first.password(server, email).await;
    assert!(first.at.contains("/consent"), "{}", first.at);
    let tokens = first.finish(server).await;
    let at = access(&tokens);
    assert_eq!(at["amr"], json!(["pwd"]), "{at}");
    let password_time = signed_in_lately(&at);
    assert_eq!(id_token(&tokens)["amr"], json!(["pwd"]));

    // Enrolment, from the signed-in browser: a QR code drawn on the server and its URI. A
    // wrong first code is refused and the secret stays (a reload shows the same one).
    let page = first.browser.get(&server.url("/account/totp")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg"), "no QR code: {}", page.body);
    let scanned = Authenticator::from_page(&page.body);
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let wrong = first
        .browser
        .post(
            &server.url("/account/totp"),
            &[
                ("csrf_token", &csrf),
                ("action", "confirm"),
                ("code", &scanned.wrong_code()),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert!(
        wrong.body.contains("That code is not right"),
        "{}",
        wrong.body
    );
    let (app, recovery) = server.enrol(&mut first.browser).await;
    let now = Authenticator::step_now();
    assert_eq!(
        app.code(now),
        scanned.code(now),
        "the same secret throughout"
    );
    let status = first.browser.get(&server.url("/account/totp")).await;
    assert!(
        status.body.contains("10 recovery code(s) left"),
        "{}",
        status.body
    );
    assert!(
        !status.body.contains("otpauth://"),
        "the secret is shown only to enrol"
    );

    // Now a sign-in asks for a code on a page of its own, and is not signed in before.
    let mut second = server.journey(&server.resource()).await;
    second.password(server, email).await;
    assert!(second.at.ends_with("/login/code"), "{}", second.at);
    let consent = second.browser.get(&server.url("/consent")).await;
    assert_eq!(consent.status, StatusCode::SEE_OTHER);
    assert!(
        consent.location.unwrap().contains("/login"),
        "not signed in yet"
    );
    assert_code_refused(&second.submit(server, &[("code", &app.wrong_code())]).await);
    // The next step's code (clocks drift, so one step either side counts) signs in.
    let code = app.code(Authenticator::step_now() + 1);
    let right = second.submit(server, &[("code", &code)]).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    let tokens = second.finish(server).await;
    let at = access(&tokens);
    assert_eq!(at["amr"], json!(["pwd", "otp", "mfa"]), "{at}");
    assert!(signed_in_lately(&at) >= password_time);
    assert_eq!(id_token(&tokens)["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id_token(&tokens)["auth_time"], at["auth_time"]);

    // The same code again, still inside its window: refused. A recovery code works, once.
    let mut third = server.journey(&server.resource()).await;
    third.password(server, email).await;
    assert_code_refused(&third.submit(server, &[("code", &code)]).await);
    let typed = recovery[0].to_uppercase();
    let recovered = third.submit(server, &[("code", &typed)]).await;
    assert_eq!(
        recovered.status,
        StatusCode::SEE_OTHER,
        "{}",
        recovered.body
    );
    let at = access(&third.finish(server).await);
    assert_eq!(at["amr"], json!(["pwd", "otp", "mfa"]), "{at}");
    let mut fourth = server.journey(&server.resource()).await;
    fourth.password(server, email).await;
    assert_code_refused(&fourth.submit(server, &[("code", &recovery[0])]).await);

    // Wrong codes are throttled like passwords: ten, and even a good code is turned away.
    for _ in 0..9 {
        assert_code_refused(&fourth.submit(server, &[("code", &app.wrong_code())]).await);
    }
    let locked = fourth.submit(server, &[("code", &recovery[1])]).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.body
    );
    assert!(
        locked.body.contains("Too many wrong codes"),
        "{}",
        locked.body
    );

    // `lanyard user reset-mfa`: the factor is gone, and the password alone signs in again.
    let out = server.cli_json(&["user", "reset-mfa", email]);
    assert_eq!(out["second_factor_removed"], true, "{out}");
    let again = server.cli_json(&["user", "reset-mfa", email]);
    assert_eq!(again["second_factor_removed"], false, "{again}");
    let mut fifth = server.journey(&server.resource()).await;
    fifth.password(server, email).await;
    assert!(fifth.at.contains("/consent"), "{}", fifth.at);
    assert_eq!(access(&fifth.finish(server).await)["amr"], json!(["pwd"]));
}

#[tokio::test]
async fn totp_enrols_signs_in_once_per_code_and_resets_on_the_embedded_store() {
    let server = TestServer::spawn().await;
    second_factor_story(&server).await;
    // The embedded store made its own key, beside the databases and as private as they are.
    let key = server.dir.path().join("data/encryption.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&key.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn totp_enrols_signs_in_once_per_code_and_resets_on_the_production_store() {
    let Some(store) = production_store().await else {
        return;
    };
    let server = TestServer::spawn_with(&store.env_with(&[KEY])).await;
    second_factor_story(&server).await;
    drop(server);
    store.finish().await;
}

async fn required_story(server: &TestServer) {
    let email = "must@example.com";
    server.add_user(email);
    let mut journey = server.journey(&server.resource()).await;
    journey.password(server, email).await;
    // Straight to enrolment, the authorization waiting, and not signed in meanwhile.
    assert!(journey.at.ends_with("/account/totp"), "{}", journey.at);
    let consent = journey.browser.get(&server.url("/consent")).await;
    assert_eq!(consent.status, StatusCode::SEE_OTHER);
    assert!(
        consent.location.unwrap().contains("/login"),
        "not signed in yet"
    );
    let page = journey.browser.get(&journey.at).await;
    assert!(page.body.contains("needs a second factor"), "{}", page.body);
    let app = Authenticator::from_page(&page.body);
    let code = app.code(Authenticator::step_now());
    let done = journey
        .submit(server, &[("action", "confirm"), ("code", &code)])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(recovery_codes(&done.body).len(), 10, "{}", done.body);
    // Continuing resumes the authorization where it stopped.
    let resumed = journey
        .submit_on(server, &done, &[("action", "continue")])
        .await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER, "{}", resumed.body);
    assert!(journey.at.contains("/consent?request="), "{}", journey.at);
    let at = access(&journey.finish(server).await);
    assert_eq!(at["amr"], json!(["pwd", "otp", "mfa"]), "{at}");
    signed_in_lately(&at);
    // The next sign-in asks for a code, not for enrolment.
    let mut next = server.journey(&server.resource()).await;
    next.password(server, email).await;
    assert!(next.at.ends_with("/login/code"), "{}", next.at);
}

#[tokio::test]
async fn required_mfa_enrols_in_the_middle_of_an_authorization_on_the_embedded_store() {
    let server = TestServer::spawn_with(&[("LANYARD_MFA", "required")]).await;
    required_story(&server).await;
}

#[tokio::test]
async fn required_mfa_enrols_in_the_middle_of_an_authorization_on_the_production_store() {
    let Some(store) = production_store().await else {
        return;
    };
    let env = store.env_with(&[KEY, ("LANYARD_MFA", "required")]);
    let server = TestServer::spawn_with(&env).await;
    required_story(&server).await;
    drop(server);
    store.finish().await;
}

#[tokio::test]
async fn without_an_encryption_key_the_production_store_offers_no_second_factor() {
    let Some(store) = production_store().await else {
        return;
    };
    let server = TestServer::spawn_with(&store.env()).await;
    let mut journey = server.journey(&server.resource()).await;
    server.add_user("nokey@example.com");
    journey.password(&server, "nokey@example.com").await;
    let page = journey.browser.get(&server.url("/account/totp")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("not available on this server"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("otpauth://"));
    // And `required` without one is refused at start, naming the key.
    let out = server.cli_with(&[("LANYARD_MFA", Some("required"))], &["keys", "list"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LANYARD_ENCRYPTION_KEY"), "{stderr}");
    drop(server);
    store.finish().await;
}

/// A session signed in by password alone, from before `LANYARD_MFA=required` (here: from an
/// instance still without it), does not carry an authorization past the setting.
#[tokio::test]
async fn under_required_mfa_a_password_only_session_signs_in_again() {
    let Some(store) = production_store().await else {
        return;
    };
    let optional = TestServer::spawn_with(&store.env_with(&[KEY])).await;
    let issuer = optional.issuer.clone();
    let required_env = store.env_with(&[
        KEY,
        ("LANYARD_MFA", "required"),
        ("LANYARD_ISSUER", &issuer),
    ]);
    let required = TestServer::spawn_with(&required_env).await;
    let email = "before@example.com";
    optional.add_user(email);
    let mut journey = optional.journey(&optional.resource()).await;
    journey.password(&optional, email).await;
    assert_eq!(
        access(&journey.finish(&optional).await)["amr"],
        json!(["pwd"])
    );

    // The same browser and client, authorizing again through the other instance.
    let (_, challenge) = pkce();
    let resource = required.resource();
    let auth = Authorize {
        client_id: &journey.client_id,
        redirect_uri: &journey.redirect,
        challenge: &challenge,
        scope: Some("read"),
        resource: Some(&resource),
        state: "s-again",
        extra: vec![],
    };
    let page = journey.browser.get(&auth.url(&required)).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    let to = page.location.unwrap();
    assert!(to.contains("/login?request="), "{to}");
    drop((optional, required));
    store.finish().await;
}

/// A sign-in the account page asked for (`/login?next=/account`) comes back to the account
/// page after its second step too, as it does after a password alone.
#[tokio::test]
async fn the_account_page_is_where_a_two_step_sign_in_for_it_lands() {
    let server = TestServer::spawn().await;
    let email = "back@example.com";
    server.add_user(email);
    let mut setup = Browser::default();
    let form = setup.get(&server.url("/login?next=/account")).await;
    let csrf = hidden(&form.body, "csrf_token").expect("csrf_token");
    let page = setup
        .post_credentials(&server.url("/login?next=/account"), email, PASSWORD, &csrf)
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some(server.url("/account").as_str())
    );
    let (app, _) = server.enrol(&mut setup).await;

    let mut browser = Browser::default();
    let form = browser.get(&server.url("/login?next=/account")).await;
    let csrf = hidden(&form.body, "csrf_token").expect("csrf_token");
    let page = browser
        .post_credentials(&server.url("/login?next=/account"), email, PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(server.url("/login/code").as_str())
    );
    let code_page = browser.get(&server.url("/login/code")).await;
    let csrf = hidden(&code_page.body, "csrf_token").expect("csrf_token");
    // The enrolment spent this step's code: the next one is the one to give.
    let code = app.code(Authenticator::step_now() + 1);
    let done = browser
        .post(
            &server.url("/login/code"),
            &[("csrf_token", csrf.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(server.url("/account").as_str())
    );
}
