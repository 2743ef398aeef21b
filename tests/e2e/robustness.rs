//! Bad input everywhere (design.md "Bad input": a 4xx in the protocol's own words, never a
//! 500), body limits, and a graceful shutdown that lets requests in flight finish.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixtures::*;
use crate::support::*;

/// Sends raw bytes on a fresh connection; returns the status and the whole response.
async fn raw(server: &TestServer, request: &[u8], half_close: bool) -> (u16, String) {
    let mut sock = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    sock.write_all(request).await.unwrap();
    if half_close {
        sock.shutdown().await.unwrap();
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn body_of(response: &str) -> &str {
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

#[tokio::test]
async fn oversized_bodies_are_413_json_on_every_endpoint() {
    let server = TestServer::spawn_with(&[("LANYARD_MAX_BODY_BYTES", "1024")]).await;
    let too_large =
        json!({"error": "invalid_request", "error_description": "request body too large"});
    for path in POST_ENDPOINTS {
        let r = server
            .http
            .post(server.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 1025])
            .send()
            .await
            .unwrap();
        let h = assert_json(r, 413, too_large.clone()).await;
        assert_no_store(&h);
        // At the limit, the endpoint itself answers.
        let r = server
            .http
            .post(server.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 1024])
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_client_error() && r.status() != 413,
            "{path}: {}",
            r.status()
        );
    }
    // A body without a declared length is cut off at the limit as it streams in.
    let chunk = format!("200\r\n{}\r\n", "a".repeat(0x200));
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{}0\r\n\r\n",
        chunk.repeat(3)
    );
    let (status, response) = raw(&server, request.as_bytes(), false).await;
    assert_eq!(status, 413, "{response}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body_of(&response)).unwrap(),
        too_large
    );
}

#[tokio::test]
async fn the_default_limit_is_64_kib_and_is_checked_before_reading() {
    let server = TestServer::spawn().await;
    // A declared length over the limit is refused on the headers alone.
    let (status, response) = raw(
        &server,
        b"POST /oauth/register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 65537\r\nconnection: close\r\n\r\n",
        false,
    )
    .await;
    assert_eq!(status, 413, "{response}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body_of(&response)).unwrap(),
        json!({"error": "invalid_request", "error_description": "request body too large"})
    );
    let r = server
        .http
        .post(server.url("/oauth/register"))
        .header("content-type", "application/json")
        .body(vec![b' '; 65_536])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// Bodies no client should send.
#[tokio::test]
async fn malformed_http_gets_a_400_and_the_server_carries_on() {
    let server = TestServer::spawn().await;
    let unreadable =
        json!({"error": "invalid_request", "error_description": "could not read request body"});
    // A body shorter than its Content-Length, then the client stops sending; and broken
    // chunked framing. The endpoint never sees either.
    let truncated: &[u8] = b"POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type";
    let bad_chunks: &[u8] = b"POST /oauth/token HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
    for (request, half_close) in [(truncated, true), (bad_chunks, false)] {
        let (status, response) = raw(&server, request, half_close).await;
        assert_eq!(status, 400, "{response}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body_of(&response)).unwrap(),
            unreadable
        );
    }
    // A broken request line, a header without a colon, a TLS hello on the plain port.
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\r\nthis is not a header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let (status, response) = raw(&server, request, false).await;
        assert_eq!(
            status,
            400,
            "{:?}: {response}",
            String::from_utf8_lossy(request)
        );
    }
    assert_healthy(&server).await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let server = TestServer::spawn().await;
    let r = server.http.get(server.url("/nope")).send().await.unwrap();
    assert_json(
        r,
        404,
        json!({"error": "not_found", "error_description": "no such endpoint"}),
    )
    .await;
    let method_not_allowed =
        json!({"error": "invalid_request", "error_description": "method not allowed"});
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/oauth/token", "POST"),
        (reqwest::Method::GET, "/oauth/register", "POST"),
        (reqwest::Method::GET, "/oauth/revoke", "POST"),
        (reqwest::Method::GET, "/oauth/introspect", "POST"),
        (reqwest::Method::DELETE, "/oauth/jwks", "GET"),
        (
            reqwest::Method::POST,
            "/.well-known/oauth-authorization-server",
            "GET",
        ),
    ] {
        let r = server
            .http
            .request(method, server.url(path))
            .send()
            .await
            .unwrap();
        let h = assert_json(r, 405, method_not_allowed.clone()).await;
        assert_eq!(h["allow"], allow, "{path}");
    }
    let r = server
        .http
        .get(server.admin_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4");
    assert_healthy(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish_then_exits_zero() {
    let mut server = TestServer::spawn().await;
    let port = server.port;
    let client = server.register_client(REDIRECT).await;
    let form = format!(
        "grant_type=authorization_code&code=nope&code_verifier={}&client_id={}",
        "v".repeat(43),
        str_of(&client, "client_id")
    );
    let (head, tail) = form.split_at(20);

    // A slow upload: the headers and a first piece of the body now, the rest after the signal.
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{head}",
        form.len()
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let tail = tail.to_string();
    let upload = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        sock.write_all(tail.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).to_string()
    });

    let status = tokio::task::block_in_place(|| server.terminate()).expect("server was running");
    let response = upload.await.unwrap();
    // The request in flight got its real answer, then the process exited cleanly.
    assert!(
        response.starts_with("HTTP/1.1 400"),
        "in-flight request was cut off: {response:?}"
    );
    assert!(
        response.contains("authorization code is invalid or expired"),
        "{response}"
    );
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        server.logs()
    );
    // Nothing listens any more.
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn sigterm_when_idle_exits_zero_promptly() {
    let mut server = TestServer::spawn_with(&[("LANYARD_DRAIN_DELAY_SECS", "1")]).await;
    let port = server.port;
    assert_healthy(&server).await;
    let started = std::time::Instant::now();
    let status = server.terminate().expect("server was running");
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        server.logs()
    );
    // An idle keep-alive connection from the test client must not hold the exit up.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

/// Behind TLS (an https issuer), every response pins https, and the cookies carry the
/// `__Host-` prefix, so no sibling subdomain or plain-http page can set or shadow them.
#[tokio::test]
async fn an_https_issuer_sends_hsts_and_host_prefixed_cookies() {
    let server = TestServer::spawn_with(&[("LANYARD_ISSUER", "https://auth.example.test")]).await;
    server.add_user("ada@example.com");
    let mut browser = Browser::default();
    let page = browser.get(&server.url("/login")).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.headers["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = page.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("__Host-lanyard_form=") && cookie.contains("; Secure; Path=/;"),
        "{cookie}"
    );
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser
        .post_credentials(&server.url("/login"), "ada@example.com", PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let cookie = page.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("__Host-lanyard_session=") && cookie.contains("; Secure; Path=/;"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");

    // On a plain http issuer (development) neither applies.
    let plain = TestServer::spawn().await;
    let r = plain.http.get(plain.url("/login")).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("lanyard_form="), "{cookie}");
}

/// The sign-in page keeps the request it serves in a signed-out browser's form cookie. A
/// `request` that is not an id Lanyard made never reaches the cookie, so it cannot add
/// attributes to it or cut it short (the cookies fuzz target's first find).
#[tokio::test]
async fn a_request_parameter_cannot_add_cookie_attributes() {
    let server = TestServer::spawn().await;
    let login = |request: &str| {
        let encoded: String = url::form_urlencoded::byte_serialize(request.as_bytes()).collect();
        server
            .http
            .get(server.url(&format!("/login?request={encoded}")))
            .send()
    };
    for request in [
        "x;Domain=evil.example",
        "x; Path=/admin",
        "x,y",
        "x y",
        "\u{e9}",
    ] {
        let r = login(request).await.unwrap();
        assert_eq!(r.status(), 200, "{request:?}");
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        let (value, attributes) = cookie.split_once("; ").unwrap();
        assert!(!value.contains('.'), "{request:?} was kept: {cookie}");
        let max_age = attributes.strip_prefix("HttpOnly; SameSite=Lax; Path=/; Max-Age=");
        assert!(
            max_age.is_some_and(|a| a.bytes().all(|b| b.is_ascii_digit())),
            "{cookie}"
        );
    }
    let id = "AbCdEfGhIjKlMnOpQrStUv";
    let r = login(id).await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie
            .split(';')
            .next()
            .unwrap()
            .ends_with(&format!(".{id}")),
        "{cookie}"
    );
}

/// Pages seen by a browser that is not signed in keep nothing on the server: the store
/// holds a session only once someone signs in.
#[tokio::test]
async fn anonymous_page_views_store_nothing() {
    let server = TestServer::spawn().await;
    server.add_user("ada@example.com");
    let sessions = || {
        let db = rusqlite::Connection::open(server.dir.path().join("data/lanyard.db")).unwrap();
        db.query_row(
            "SELECT COUNT(*) FROM ephemeral WHERE key LIKE 'session:%'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    for path in ["/login", "/register", "/logout", "/login?request=nope"] {
        for _ in 0..20 {
            let page = Browser::default().get(&server.url(path)).await;
            assert_eq!(page.status, 200, "{path}");
        }
    }
    assert_eq!(sessions(), 0);
    // A form from such a page still works: the token rides in the browser's cookie.
    let mut browser = Browser::default();
    let page = browser.get(&server.url("/login")).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let page = browser
        .post_credentials(&server.url("/login"), "ada@example.com", PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(sessions(), 1);
    // A forged form, with a token of its own but not the browser's, is refused.
    let mut other = Browser::default();
    other.get(&server.url("/login")).await;
    let page = other
        .post_credentials(&server.url("/login"), "ada@example.com", PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
}

/// A burst of sign-ins larger than the password checks can queue is turned away at once
/// with 503 and `Retry-After`, not queued for ever; once it passes, sign-in works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sign_ins_past_the_hashing_queue_gets_503_with_retry_after() {
    let server = TestServer::spawn().await;
    server.add_user("ada@example.com");
    let login = server.url("/login");
    let mut browsers = Vec::new();
    for _ in 0..200 {
        let mut b = Browser::default();
        let page = b.get(&login).await;
        let csrf = hidden(&page.body, "csrf_token").expect("csrf");
        browsers.push((b, csrf));
    }
    let attempts = browsers.into_iter().enumerate().map(|(i, (mut b, csrf))| {
        let login = login.clone();
        tokio::spawn(async move {
            let email = format!("nobody-{i}@example.com");
            b.post_credentials(&login, &email, "not the password", &csrf)
                .await
        })
    });
    let mut busy = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        let page = attempt.await.unwrap();
        match page.status.as_u16() {
            401 => {}
            503 => {
                assert_eq!(page.headers["retry-after"], "2");
                busy += 1;
            }
            other => panic!("{other}: {}", page.body),
        }
    }
    assert!(busy > 0, "two hundred checks at once all queued");

    let mut b = Browser::default();
    let page = b.get(&login).await;
    let csrf = hidden(&page.body, "csrf_token").expect("csrf");
    let page = b
        .post_credentials(&login, "ada@example.com", PASSWORD, &csrf)
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
}

/// The embedded store's directory and files are the server user's alone, and a directory
/// others can read stops the server with the command that fixes it.
#[tokio::test]
async fn the_data_directory_is_private_and_a_shared_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = TestServer::spawn().await;
    server.add_user("ada@example.com");
    let data = server.dir.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in ["lanyard.db", "lanyard.db-wal", "decisions.db"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    server.stop();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!server.start().await, "started on a shared data directory");
    assert!(
        server.logs().contains("run `chmod 700"),
        "{}",
        server.logs()
    );
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(server.start().await, "{}", server.logs());
}
