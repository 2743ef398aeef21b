//! Connections held to their deadlines, bodies to their limits, and a rolling restart that
//! drops nothing: raw sockets against a real server.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixtures::assert_healthy;
use crate::support::*;

/// Reads until the server closes the connection (or `limit` passes); returns what it sent
/// and how long the connection stayed open.
async fn read_until_closed(sock: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while started.elapsed() < limit {
        match tokio::time::timeout(limit - started.elapsed(), sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection was still open after {limit:?}"),
        }
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// Reads one response whose body is `content-length` long; returns it whole.
async fn read_response(sock: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed before a whole response: {out:?}");
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect")
}

#[tokio::test]
async fn headers_that_trickle_in_close_the_connection_at_the_header_timeout() {
    let server = TestServer::spawn_with(&[("LANYARD_HEADER_TIMEOUT_SECS", "1")]).await;
    // A slowloris: a start line and one header, then a byte now and then, never the end.
    let mut sock = connect(&server).await;
    sock.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if sock.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    let started = Instant::now();
    trickle.await;
    let (sent, _) = read_until_closed(&mut sock, Duration::from_secs(5)).await;
    let open = started.elapsed();
    assert!(sent.is_empty(), "answered a request never finished: {sent}");
    assert!(open < Duration::from_secs(5), "open for {open:?}");

    // A connection that never sends anything is closed just the same.
    let mut silent = connect(&server).await;
    let (_, open) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(
        open >= Duration::from_millis(900) && open < Duration::from_secs(3),
        "open for {open:?}"
    );
    assert_healthy(&server).await;
}

#[tokio::test]
async fn a_keep_alive_connection_serves_requests_until_it_sits_idle_too_long() {
    let server = TestServer::spawn_with(&[
        ("LANYARD_HEADER_TIMEOUT_SECS", "1"),
        ("LANYARD_IDLE_TIMEOUT_SECS", "3"),
    ])
    .await;
    let mut sock = connect(&server).await;
    let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    // Pauses longer than the header timeout but within the idle timeout keep it open: the
    // header clock starts with a request's first byte, not with the idle wait.
    for _ in 0..3 {
        sock.write_all(request).await.unwrap();
        let response = read_response(&mut sock).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    sock.write_all(request).await.unwrap();
    read_response(&mut sock).await;
    let (sent, idle) = read_until_closed(&mut sock, Duration::from_secs(10)).await;
    assert!(sent.is_empty(), "{sent}");
    assert!(
        idle >= Duration::from_millis(2_500) && idle < Duration::from_secs(6),
        "closed after {idle:?} idle"
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408() {
    let server = TestServer::spawn_with(&[("LANYARD_BODY_TIMEOUT_SECS", "1")]).await;
    let mut sock = connect(&server).await;
    sock.write_all(
        b"POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type=",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let (response, _) = read_until_closed(&mut sock, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        response.ends_with(
            r#"{"error":"invalid_request","error_description":"request body too slow"}"#
        ),
        "{response}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Clients that write their whole body before reading (Node's, for one) must still read the
/// 413, whether the body declares its length or comes in chunks.
#[tokio::test]
async fn an_oversized_body_written_whole_before_reading_still_gets_its_413() {
    let server = TestServer::spawn().await;
    let body = vec![b'a'; 2 << 20];
    for path in ["/oauth/token", "/oauth/revoke"] {
        for chunked in [false, true] {
            let mut sock = connect(&server).await;
            let head = if chunked {
                format!(
                    "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n"
                )
            } else {
                format!(
                    "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
            };
            sock.write_all(head.as_bytes()).await.unwrap();
            if chunked {
                for piece in body.chunks(64 << 10) {
                    let frame = format!("{:x}\r\n", piece.len());
                    sock.write_all(frame.as_bytes()).await.expect("not reset");
                    sock.write_all(piece).await.expect("not reset");
                    sock.write_all(b"\r\n").await.expect("not reset");
                }
                sock.write_all(b"0\r\n\r\n").await.expect("not reset");
            } else {
                sock.write_all(&body)
                    .await
                    .expect("not reset while writing");
            }
            let (response, _) = read_until_closed(&mut sock, Duration::from_secs(10)).await;
            assert!(
                response.starts_with("HTTP/1.1 413"),
                "{path}, chunked {chunked}: {response}"
            );
            assert!(
                response.ends_with(
                    r#"{"error":"invalid_request","error_description":"request body too large"}"#
                ),
                "{response}"
            );
        }
    }
    assert_healthy(&server).await;
}

/// On SIGTERM the server keeps serving for the drain delay, says it is leaving at `/readyz`
/// and closes connections after their responses; only then does it stop accepting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_before_it_stops_accepting() {
    let mut server = TestServer::spawn_with(&[("LANYARD_DRAIN_DELAY_SECS", "2")]).await;
    assert_healthy(&server).await;
    let mut kept = connect(&server).await;
    let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    kept.write_all(request).await.unwrap();
    assert!(read_response(&mut kept).await.starts_with("HTTP/1.1 200"));

    server.signal_terminate();
    let signalled = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let r = client().get(server.url("/readyz")).send().await.unwrap();
        if r.status() == 503 {
            assert_eq!(r.text().await.unwrap(), "draining");
            break;
        }
        assert!(Instant::now() < deadline, "never started draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A request on a connection opened before the signal is still served, and told that
    // the connection closes after it.
    kept.write_all(request).await.unwrap();
    let response = read_response(&mut kept).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("connection: close"), "{response}");
    let (rest, _) = read_until_closed(&mut kept, Duration::from_secs(2)).await;
    assert!(rest.is_empty());
    // New connections too, until the delay is over.
    let r = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(signalled.elapsed() < Duration::from_secs(2));

    let status = tokio::task::block_in_place(|| server.terminate()).expect("running");
    assert!(status.success(), "{status:?}\n{}", server.logs());
    assert!(signalled.elapsed() >= Duration::from_secs(2));
    assert!(connect_fails(server.port).await);
}

async fn connect_fails(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).await.is_err()
}

/// Metrics live on the admin listener only; the health checks answer on both.
#[tokio::test]
async fn metrics_are_served_on_the_admin_listener_only() {
    let server = TestServer::spawn().await;
    let get = |url: String| async move {
        let r = client().get(url).send().await.expect("request");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    };
    let (status, _) = get(server.url("/metrics")).await;
    assert_eq!(status, 404);
    let (status, body) = get(server.admin_url("/metrics")).await;
    assert_eq!(status, 200);
    assert!(body.contains("lanyard_http_responses_total"), "{body}");
    assert!(
        body.contains("lanyard_store_up{backend=\"sqlite\"} 1\n"),
        "{body}"
    );
    for (path, answer) in [
        ("/healthz", "ok"),
        ("/healthz?deep=1", "sqlite ok\n"),
        ("/readyz", "ready"),
    ] {
        assert_eq!(get(server.url(path)).await, (200, answer.to_string()));
        assert_eq!(get(server.admin_url(path)).await, (200, answer.to_string()));
    }
    // Nothing else is there: not the OAuth endpoints, not the portal.
    for path in [
        "/oauth/jwks",
        "/login",
        "/.well-known/oauth-authorization-server",
    ] {
        assert_eq!(get(server.admin_url(path)).await.0, 404, "{path}");
    }
}
