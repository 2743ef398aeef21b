//! The floor under every mint: one raw signature with the parsed key, against a whole
//! access-token mint (claims, base64, signature) through `tokens::jwt`.
//!
//! `cargo bench -p lanyard --bench sign`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use lanyard::clock::{Clock, SystemClock};
use lanyard::config::SigningAlg;
use lanyard::domain::SignInMethods;
use lanyard::store::embedded::Embedded;
use lanyard::tokens::jwt::mint_access;
use lanyard::tokens::{AccessClaims, KeyRing, UserClaims};
use serde_json::Map;

fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    for (alg, n) in [(SigningAlg::RS256, 3_000), (SigningAlg::ES256, 30_000)] {
        let store = Embedded::in_memory().unwrap();
        let ring = KeyRing::load(&store, alg, 900, SystemClock.now())
            .await
            .unwrap()
            .current();
        let raw = per_op(n, || {
            ring.signer
                .sign(b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0")
                .unwrap();
        });
        let extra = Map::new();
        let amr = SignInMethods::password();
        let now = SystemClock.now();
        let mint = per_op(n, || {
            let claims = AccessClaims {
                iss: "https://auth.example.com",
                sub: "user-0123456789",
                aud: "https://notes.example.com/mcp",
                azp: "client-0123456789",
                client_id: "client-0123456789",
                scope: "read write",
                user: Some(UserClaims {
                    email: "ada@example.com",
                    email_verified: true,
                    auth_time: now,
                    amr: &amr,
                }),
                iat: now,
                exp: now + 900,
                jti: "grant-0123456789.abcdefghij",
                extra: &extra,
            };
            mint_access(&ring, &claims).unwrap();
        });
        println!(
            "{:5} raw signature {raw:7.1} µs | access-token mint {mint:7.1} µs ({:+.1}% over the signature)",
            alg.as_str(),
            (mint / raw - 1.0) * 100.0
        );
    }
}
