//! The operator's branding (`[branding]` in lanyard.toml) on every page and mail, the logo
//! served from memory, and a logo file that goes missing stopping the server with a clear
//! message.

use crate::support::*;

const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="#0f766e"/></svg>"##;

/// A server whose lanyard.toml brands it "Acme Notes", with a logo file beside the file.
pub async fn branded() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme.svg"), LOGO).unwrap();
    std::fs::write(
        dir.path().join("lanyard.toml"),
        r##"
[branding]
name = "Acme Notes"
logo = "acme.svg"
accent = "#0F766E"
support = "help@acme.test"
terms = "https://acme.test/terms"
privacy = "https://acme.test/privacy"
"##,
    )
    .unwrap();
    TestServer::spawn_in(dir, &[]).await
}

#[tokio::test]
async fn every_page_carries_the_operators_name_logo_colour_and_links() {
    let server = branded().await;
    for path in ["/login", "/register"] {
        let (status, page) = server.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        for expected in [
            "<title>Sign",
            " · Acme Notes</title>",
            "<img src=\"/branding/logo\" alt=\"\">",
            ":root { --accent: #0f766e; }",
            "Secured by Acme Notes",
            "href=\"mailto:help@acme.test\"",
            "href=\"https://acme.test/terms\"",
            "href=\"https://acme.test/privacy\"",
        ] {
            if path == "/register" && expected == "<title>Sign" {
                continue;
            }
            assert!(page.contains(expected), "{path}: {expected} not in {page}");
        }
        assert!(
            !page.contains("Lanyard"),
            "{path} still says Lanyard: {page}"
        );
    }
    // The error page too.
    let (_, page) = server.get_text("/oauth/authorize?client_id=nobody").await;
    assert!(page.contains("Secured by Acme Notes"), "{page}");

    let r = server
        .http
        .get(server.url("/branding/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("sandbox"), "{csp}");
    assert_eq!(r.text().await.unwrap(), LOGO);
}

#[tokio::test]
async fn without_branding_there_is_no_logo_to_serve() {
    let server = TestServer::spawn().await;
    let r = server
        .http
        .get(server.url("/branding/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (_, page) = server.get_text("/login").await;
    assert!(page.contains("Secured by Lanyard"), "{page}");
}

#[tokio::test]
async fn a_missing_logo_file_stops_the_server_and_names_it() {
    let mut server = branded().await;
    server.stop();
    let logo = server.dir.path().join("acme.svg");
    std::fs::remove_file(&logo).unwrap();
    assert!(!server.start().await, "started without its logo");
    let logs = server.logs();
    assert!(
        logs.contains("branding.logo: cannot read the logo file") && logs.contains("acme.svg"),
        "{logs}"
    );
}

/// Mail is branded too: the sender's name, the subject and the help line.
#[tokio::test]
async fn mail_carries_the_operators_name_and_support_address() {
    let server = branded().await;
    let mut browser = Browser::default();
    let page = crate::mail::sign_up(&server, &mut browser, "new@example.com", None).await;
    assert_eq!(page.status, 303, "{}", page.body);
    server.wait_for_log("mail written to the outbox").await;
    let outbox = server.dir.path().join("data/outbox");
    let file = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .expect("a mail in the outbox");
    let eml = crate::mail::unquote(&std::fs::read_to_string(file).unwrap());
    for expected in [
        "From: \"Acme Notes\" <noreply@127.0.0.1>",
        "Subject: Confirm your email address for Acme Notes",
        "Questions? Write to help@acme.test.",
    ] {
        assert!(eml.contains(expected), "{expected} not in {eml}");
    }
    assert!(!eml.contains("Lanyard"), "{eml}");
}
