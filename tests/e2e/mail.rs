//! Mail delivery (issue 17): messages reach a real SMTP server (aiosmtpd on loopback) with
//! a plain-text part and absolute links under the issuer; a mail server that is down delays
//! mail but loses none, even across a restart (the queue is in the store); with no SMTP
//! server the mail lands in the outbox folder as `.eml` files. Plus the helpers the
//! verification and recovery suites share.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::*;

/// A server on `store` that mails through the SMTP server at `smtp_url`.
pub async fn mailing_server(
    store: &[(&str, &str)],
    smtp_url: &str,
    extra: &[(&str, &str)],
) -> TestServer {
    let mut env = store.to_vec();
    env.push(("LANYARD_SMTP_URL", smtp_url));
    env.extend_from_slice(extra);
    TestServer::spawn_with(&env).await
}

/// Signs `email` up in `browser` (for the pending authorization `request`, if any), with
/// the kit's password.
pub async fn sign_up(
    server: &TestServer,
    browser: &mut Browser,
    email: &str,
    request: Option<&str>,
) -> Page {
    let url = match request {
        Some(r) => server.url(&format!("/register?request={r}")),
        None => server.url("/register"),
    };
    let form = browser.get(&url).await;
    let csrf = hidden(&form.body, "csrf_token").expect("csrf_token on /register");
    browser.post_credentials(&url, email, PASSWORD, &csrf).await
}

/// A mail as a person reads it: a plain-text message from Lanyard whose every link is an
/// absolute URL under the issuer.
pub fn assert_readable(server: &TestServer, mail: &serde_json::Value) {
    assert_eq!(mail["content_type"], "text/plain", "{mail}");
    let host = url::Url::parse(&server.issuer).unwrap();
    let from = format!("noreply@{}", host.host_str().unwrap());
    assert!(mail["from"].as_str().unwrap().contains(&from), "{mail}");
    assert!(
        mail["message_id"].as_str().unwrap().starts_with('<'),
        "{mail}"
    );
    let text = mail["text"].as_str().unwrap();
    for word in text.split_whitespace().filter(|w| w.contains("://")) {
        assert!(
            word.starts_with(&format!("{}/", server.issuer)),
            "a link outside the issuer: {word}"
        );
    }
}

/// A mail server that is down delays a sign-up's mail, never fails the sign-up, and loses
/// nothing: the message waits in the store, through a restart, until the server is up.
async fn smtp_down_then_up(store: &[(&str, &str)]) {
    if !smtp_available() {
        return;
    }
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let mut server = mailing_server(store, &url, &[]).await;
    let email = "patient@example.com";
    let page = sign_up(&server, &mut Browser::default(), email, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Check your mail"), "{}", page.body);
    server
        .wait_for_log("mail not delivered; will try again")
        .await;
    assert!(counter(&server, "lanyard_mail_retried_total").await >= 1);

    // Restarted while the mail server is still down: the queue is in the store.
    server.stop();
    let sink = MailSink::start_on(port).expect("aiosmtpd");
    assert!(server.start().await, "restart: {}", server.logs());
    let mail = sink.next_for(email, 0).await;
    assert_readable(&server, &mail);
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Confirm your email address")
    );
    let link = link_in(
        mail["text"].as_str().unwrap(),
        &server.url("/verify?token="),
    );
    let page = Browser::default().get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Your address is confirmed"),
        "{}",
        page.body
    );
    // Delivered once: the queue forgets a delivered message.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.to(email).len(), 1, "{:?}", sink.to(email));
    assert_eq!(counter(&server, "lanyard_mail_delivered_total").await, 1);
}

/// A counter from the admin listener's `/metrics`.
async fn counter(server: &TestServer, name: &str) -> u64 {
    let body = server
        .http
        .get(server.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .parse()
        .unwrap()
}

on_both_stores!(smtp_down_then_up);

/// Quoted-printable (RFC 2045 §6.7) undone, enough to read a link: soft line breaks
/// joined, `=XX` decoded.
pub fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'='
            && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// With no SMTP server (the embedded default), mail goes to `outbox/` in the data folder,
/// one `.eml` per message, and the log says where: a newcomer clicks the link from there.
#[tokio::test]
async fn without_smtp_mail_lands_in_the_outbox() {
    let server = TestServer::spawn().await;
    let email = "newcomer@example.com";
    let mut browser = Browser::default();
    let page = sign_up(&server, &mut browser, email, None).await;
    // Nothing hides accounts without real mail: the newcomer is signed in at once.
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    server.wait_for_log("mail written to the outbox").await;
    let outbox = server.dir.path().join("data/outbox");
    assert!(
        server.logs().contains(&outbox.display().to_string()),
        "{}",
        server.logs()
    );
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let eml = unquote(&std::fs::read_to_string(&files[0]).unwrap());
    assert!(eml.contains(&format!("To: {email}")), "{eml}");
    assert!(eml.contains("Content-Type: text/plain"), "{eml}");
    let link = link_in(&eml, &server.url("/verify?token="));
    let page = browser.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Your address is confirmed"),
        "{}",
        page.body
    );
}

/// SMTP credentials are never logged, and never sent to a server that does not offer
/// STARTTLS: the mail waits instead.
#[tokio::test]
async fn credentials_stay_secret() {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let secret = "hunter2-smtp";
    let url = format!("smtp://mailer:{secret}@127.0.0.1:{}", sink.port);
    let server = mailing_server(&[], &url, &[]).await;
    let email = "careful-sender@example.com";
    let page = sign_up(&server, &mut Browser::default(), email, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    server
        .wait_for_log("mail not delivered; will try again")
        .await;
    assert!(sink.messages().is_empty(), "{:?}", sink.messages());
    assert!(!server.logs().contains(secret), "{}", server.logs());
    assert!(server.logs().contains(&format!("127.0.0.1:{}", sink.port)));
}

/// `smtps://`: TLS from the first byte (here a TLS front before the SMTP server), with the
/// server's CA from `LANYARD_SMTP_CA`.
#[tokio::test]
async fn implicit_tls() {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let front = TlsFront::smtps(&format!("127.0.0.1:{}", sink.port)).await;
    let url = format!("smtps://localhost:{}", front.port);
    let ca = front.ca_file.path().display().to_string();
    let server = mailing_server(&[], &url, &[("LANYARD_SMTP_CA", &ca)]).await;
    let email = "over-tls@example.com";
    sign_up(&server, &mut Browser::default(), email, None).await;
    let mail = sink.next_for(email, 0).await;
    assert_readable(&server, &mail);
}

/// `smtp://user:password@…`: STARTTLS (required, since there are credentials), then AUTH,
/// then the mail; the server refuses mail without both.
#[tokio::test]
async fn starttls_with_credentials() {
    let login = ("lanyard", "s3cret-pass");
    let Some(sink) = MailSink::start_with_starttls(login) else {
        return;
    };
    let url = format!("smtp://{}:{}@localhost:{}", login.0, login.1, sink.port);
    let ca = sink.ca_file().display().to_string();
    let server = mailing_server(&[], &url, &[("LANYARD_SMTP_CA", &ca)]).await;
    let email = "authenticated@example.com";
    sign_up(&server, &mut Browser::default(), email, None).await;
    let mail = sink.next_for(email, 0).await;
    assert_readable(&server, &mail);
    assert!(!server.logs().contains(login.1), "{}", server.logs());
}

/// Two instances on one production store share one queue: each message goes out once,
/// whichever instance queued it and whichever claims it.
#[tokio::test]
async fn two_instances_send_each_mail_once() {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let Some(store) = production_store().await else {
        return;
    };
    let a = mailing_server(&store.env(), &sink.smtp_url(), &[]).await;
    let issuer = a.issuer.clone();
    let b = mailing_server(
        &store.env(),
        &sink.smtp_url(),
        &[("LANYARD_ISSUER", &issuer)],
    )
    .await;
    let emails: Vec<String> = (0..6).map(|n| format!("crowd{n}@example.com")).collect();
    for (n, email) in emails.iter().enumerate() {
        let server = if n % 2 == 0 { &a } else { &b };
        let page = sign_up(server, &mut Browser::default(), email, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }
    for email in &emails {
        sink.wait_for(email, 1).await;
    }
    // Both senders poll every two seconds: long enough for a second copy to show.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for email in &emails {
        assert_eq!(sink.to(email).len(), 1, "{email}: {:?}", sink.to(email));
    }
    drop((a, b));
    store.finish().await;
}
