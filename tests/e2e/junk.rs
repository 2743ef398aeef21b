//! Junk to every endpoint: garbage bodies, invalid UTF-8, truncated forms, and rounds of
//! seeded random requests. Every answer is a 4xx (or a success), never a 5xx (design.md
//! "Bad input"), and the server stays healthy.

use serde_json::json;

use crate::fixtures::*;
use crate::support::*;

fn garbage_bodies() -> Vec<Vec<u8>> {
    let mut nested = "[".repeat(10_000).into_bytes();
    nested.extend(b"]".repeat(10_000));
    vec![
        vec![],
        b"\xff\xfe\xfd\x00\x01\x02".to_vec(),
        // Invalid UTF-8, percent-encoded and raw.
        b"grant_type=authorization_code&code=%FF%FE&code_verifier=\xc3\x28".to_vec(),
        // Truncated: a percent escape and a JSON document cut short.
        b"grant_type=authorization_code&code=%E2%8".to_vec(),
        b"{\"redirect_uris\": [\"https://a.example/cb\"".to_vec(),
        b"%%%&&&===&=x&x=&".to_vec(),
        b"token=a&token=b&client_id=a&client_id=b".to_vec(),
        format!("{}=1", "k".repeat(60_000)).into_bytes(),
        nested,
        b"null".to_vec(),
        b"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":[]}".to_vec(),
        (0u8..=255).collect(),
    ]
}

#[tokio::test]
async fn garbage_to_every_post_endpoint_is_a_4xx() {
    let server = TestServer::spawn().await;
    let content_types = [
        Some("application/x-www-form-urlencoded"),
        Some("application/json"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        None,
    ];
    for path in POST_ENDPOINTS {
        for body in garbage_bodies() {
            for ct in content_types {
                let mut r = server.http.post(server.url(path)).body(body.clone());
                if let Some(ct) = ct {
                    r = r.header("content-type", ct);
                }
                let r = r.send().await.unwrap();
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
                assert!(
                    status.is_client_error(),
                    "POST {path} ({ct:?}) {shown:?}: {status} {text}"
                );
            }
        }
    }
    assert_healthy(&server).await;
}

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn text(&mut self, max: usize) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', '-', '.', '_', '~', ' ', '%', '&', '=', '+', '"', '\\', '/', ':', '?',
            '#', '<', '>', 'é', '☃', '\u{0}', '\u{202e}', '\n',
        ];
        let n = self.below(max + 1);
        (0..n).map(|_| CHARS[self.below(CHARS.len())]).collect()
    }
}

const KEYS: [&str; 24] = [
    "grant_type",
    "code",
    "code_verifier",
    "redirect_uri",
    "client_id",
    "client_secret",
    "refresh_token",
    "scope",
    "resource",
    "token",
    "token_type_hint",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "request",
    "csrf_token",
    "email",
    "password",
    "decision",
    "redirect_uris",
];

/// A value that is sometimes right, usually wrong.
fn value(j: &mut Junk, known: &[&str]) -> String {
    match j.below(4) {
        0 => j.pick(known).to_string(),
        1 => j.text(40),
        2 => String::from_utf8_lossy(&j.bytes(30)).into_owned(),
        _ => j
            .pick(&[
                "",
                "-1",
                "99999999999999999999",
                "%",
                "S256",
                "plain",
                "none",
                "consent login",
                "code",
                "token",
                "allow",
                "deny",
                "read write openid email offline_access",
                "authorization_code",
                "refresh_token",
                "password",
                "http://127.0.0.1:9/callback",
                "javascript:alert(1)",
                "https://10.0.0.1/c.json",
                "[]",
                "{}",
            ])
            .to_string(),
    }
}

/// The right kind of value for `key` half the time, so that junk gets past the first check.
fn value_for(j: &mut Junk, key: &str, known: &[&str]) -> String {
    if j.below(2) == 0 {
        return value(j, known);
    }
    let plausible: &[&str] = match key {
        "grant_type" => &["authorization_code", "refresh_token"],
        "response_type" => &["code"],
        "code_challenge_method" => &["S256"],
        "code_challenge" | "code_verifier" => &[
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ],
        "token_type_hint" => &["access_token", "refresh_token"],
        "prompt" => &["none", "login", "consent"],
        _ => known,
    };
    j.pick(plausible).to_string()
}

fn form(j: &mut Junk, known: &[&str]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for _ in 0..j.below(10) {
        let key = if j.below(5) == 0 {
            j.text(10)
        } else {
            j.pick(&KEYS).to_string()
        };
        let v = value_for(j, &key, known);
        s.append_pair(&key, &v);
    }
    s.finish()
}

fn junk_body(j: &mut Junk, known: &[&str]) -> (Option<&'static str>, Vec<u8>) {
    match j.below(6) {
        0 => (
            Some("application/x-www-form-urlencoded"),
            form(j, known).into_bytes(),
        ),
        1 => {
            let mut m = serde_json::Map::new();
            for _ in 0..j.below(6) {
                let key = j.pick(&KEYS);
                let v = match j.below(4) {
                    0 => json!([value_for(j, key, known)]),
                    1 => json!(j.next() as i64),
                    2 => json!(null),
                    _ => json!(value_for(j, key, known)),
                };
                m.insert(key.to_string(), v);
            }
            (
                Some("application/json"),
                serde_json::Value::Object(m).to_string().into_bytes(),
            )
        }
        // Almost JSON-RPC, for the MCP endpoint.
        2 => {
            let method = j.pick(&[
                "initialize",
                "tools/list",
                "tools/call",
                "ping",
                "notifications/initialized",
                "",
                "x",
            ]);
            let id = match j.below(4) {
                0 => json!(j.next() as i64),
                1 => json!(value(j, known)),
                2 => json!(null),
                _ => json!({"a": []}),
            };
            let params = match j.below(3) {
                0 => json!({"name": j.pick(&["ping", "rm", ""]), "arguments": value(j, known)}),
                1 => json!({"protocolVersion": value(j, known)}),
                _ => json!(value(j, known)),
            };
            (
                Some("application/json"),
                json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
                    .to_string()
                    .into_bytes(),
            )
        }
        3 => (Some("application/x-www-form-urlencoded"), j.bytes(300)),
        4 => (Some("application/json"), j.bytes(300)),
        _ => (None, j.bytes(100)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_rounds_of_random_junk_never_yield_a_5xx() {
    let server = TestServer::spawn().await;
    server.add_user(EMAIL);
    let c = server.connect(EMAIL, None).await;
    // Sometimes-valid values reach deeper than pure noise does.
    let known: Vec<String> = vec![
        c.client_id.clone(),
        REDIRECT.into(),
        server.resource(),
        c.access_token().into(),
        c.refresh_token().into(),
        EMAIL.into(),
        PASSWORD.into(),
    ];
    let endpoints: Vec<(&str, &str)> = POST_ENDPOINTS
        .iter()
        .map(|p| ("POST", *p))
        .chain([
            ("GET", "/oauth/authorize"),
            ("GET", "/oauth/userinfo"),
            ("GET", "/oauth/jwks"),
            ("GET", "/mcp/ping"),
            ("GET", "/login"),
            ("GET", "/consent"),
            ("GET", "/verify"),
            ("GET", "/forgot"),
            ("GET", "/reset"),
            ("GET", "/.well-known/oauth-protected-resource"),
            ("GET", "/.well-known/oauth-authorization-server"),
            ("OPTIONS", "/oauth/token"),
        ])
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (method, path)) in endpoints.into_iter().enumerate() {
        let (http, base, known) = (server.http.clone(), server.base.clone(), known.clone());
        tasks.spawn(async move {
            let seed = 0x5eed_0000 + i as u64;
            let mut j = Junk(seed);
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            let mut skipped = 0;
            for round in 0..200 {
                let method = if j.below(10) == 0 {
                    j.pick(&["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "GET", "POST"])
                } else {
                    method
                };
                let suffix = if j.below(4) == 0 {
                    format!("?{}", form(&mut j, &known))
                } else {
                    String::new()
                };
                let extra_path = if path.starts_with("/.well-known") && j.below(3) == 0 {
                    format!("/{}", j.pick(&["mcp", "x", "..", "%2e%2e", "mcp/"]))
                } else {
                    String::new()
                };
                let url = format!("{base}{path}{extra_path}{suffix}");
                let mut r = http.request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                );
                let (ct, body) = junk_body(&mut j, &known);
                if let Some(ct) = ct {
                    r = r.header("content-type", ct);
                }
                match j.below(7) {
                    0 => r = r.header("authorization", format!("Bearer {}", value(&mut j, &known))),
                    // known[3] is a live access token: the junk then reaches JSON-RPC parsing.
                    6 => r = r.header("authorization", format!("Bearer {}", known[3])),
                    1 => {
                        r = r.header(
                            "authorization",
                            format!(
                                "Basic {}",
                                base64::Engine::encode(
                                    &base64::engine::general_purpose::STANDARD,
                                    value(&mut j, &known)
                                )
                            ),
                        )
                    }
                    2 => {
                        r = r.header(
                            "cookie",
                            format!(
                                "lanyard_session={}",
                                j.text(20).replace(['\u{0}', '\n'], "")
                            ),
                        )
                    }
                    3 => r = r.header("mcp-protocol-version", j.pick(&["2025-06-18", "nope", ""])),
                    _ => {}
                }
                let Ok(r) = r.body(body).send().await else {
                    // A header value reqwest itself refuses never reaches the server.
                    skipped += 1;
                    continue;
                };
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                assert!(
                    status.as_u16() < 500,
                    "seed {seed} round {round}: {method} {url}: {status} {text}"
                );
            }
            // Most of the junk must reach the server for the loop to mean anything.
            assert!(
                skipped < 40,
                "seed {seed}: {skipped} of 200 requests could not be sent"
            );
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_healthy(&server).await;
    // Still serving real clients.
    let again = server.connect(EMAIL, None).await;
    assert_eq!(mcp_status(&server, again.access_token()).await, 200);
}
