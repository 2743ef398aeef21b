//! The cost of one policy call through the real host (fresh store and instance from the
//! pooling allocator, typed records in and out, output checks), as p50/p99 in µs.
//!
//! `cargo bench -p lanyard --bench policy_call` builds the example policies first;
//! `LANYARD_BENCH_POLICY=a.wasm:b.wasm` adds modules of your own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lanyard::policy::GuestInput;
use lanyard::policy::chain::decide;
use lanyard::policy::engine::CompiledPolicy;
use lanyard::policy::engine::{Limits, PolicyEngine};
use lanyard::policy::input::{ClientInput, Phase, PolicyInput, UserInput};
use serde_json::json;

fn input() -> PolicyInput {
    PolicyInput {
        phase: Phase::Token,
        grant_type: Some(lanyard::domain::GrantType::RefreshToken),
        user: Some(UserInput {
            sub: "u-123".into(),
            email: "ada@example.com".into(),
            email_verified: true,
            metadata: json!({"tiers": {"https://notes.example.com/mcp": "pro"}, "org": {"id": "org_1", "role": "admin"}}),
            amr: vec!["pwd".into()],
            auth_time: 1,
        }),
        client: ClientInput {
            id: "client-1".into(),
            name: "Notes".into(),
        },
        resource: "https://notes.example.com/mcp".into(),
        scopes: vec!["read".into(), "write".into()],
        config: json!({}),
        now: 1_800_000_000,
    }
}

fn main() {
    let dir = support::build_policies();
    let engine = PolicyEngine::new(Limits::default(), None).unwrap();
    let store = lanyard::store::embedded::Embedded::in_memory().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let signer = runtime
        .block_on(lanyard::tokens::KeyRing::load(
            &store,
            lanyard::config::SigningAlg::RS256,
            900,
            0,
        ))
        .unwrap()
        .current();
    let cases = [
        (
            "purchase-tier",
            "purchase_tier.wasm",
            json!({"default": "free", "tiers": {"free": {"drop_scopes": ["write"]}, "pro": {"entitlements": ["export", "share"]}}}),
        ),
        (
            "org-membership",
            "org_membership.wasm",
            json!({"domains": {"example.com": "org_example"}, "require_org": true}),
        ),
    ];
    // `LANYARD_BENCH_POLICY=a.wasm:b.wasm` adds modules of your own, called with `{}` as config.
    let extra: Vec<(String, PathBuf, serde_json::Value)> = std::env::var("LANYARD_BENCH_POLICY")
        .map(|list| {
            std::env::split_paths(&list)
                .map(|p| {
                    (
                        p.file_stem().unwrap().to_string_lossy().into_owned(),
                        p,
                        json!({}),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let cases = cases
        .into_iter()
        .map(|(name, file, config)| (name.to_string(), dir.join(file), config))
        .chain(extra);
    for (name, path, config) in cases {
        let bytes = std::fs::read(&path).unwrap();
        let started = Instant::now();
        let compiled = engine.compile(&name, &bytes).unwrap();
        let compile_ms = started.elapsed().as_secs_f64() * 1e3;
        let input = GuestInput::from_fixture(&PolicyInput { config, ..input() });
        let call = || runtime.block_on(call_many(&engine, &compiled, &input, 1));
        for _ in 0..2_000 {
            call();
        }
        let n = 20_000;
        let all = Instant::now();
        let mut samples = runtime.block_on(call_many(&engine, &compiled, &input, n));
        let total = all.elapsed();
        let (p50, p90, p99) = percentiles(&mut samples);
        println!(
            "{name:16} compile {compile_ms:6.1} ms | call p50 {p50:5.1} µs  p90 {p90:5.1} µs  p99 {p99:5.1} µs | {:.0} calls/s on one thread",
            n as f64 / total.as_secs_f64()
        );
        // The same call with an RS256 signature before each, as on the token endpoint: the
        // signature evicts what the call had in cache.
        let sign = || {
            signer.signer.sign(b"header.payload").unwrap();
        };
        print_after("a signature", &mut timed_after(sign, call));
        // The same call after a quarter of a millisecond spent reading the clock, which
        // touches almost no memory: calls on a busy token endpoint are about this far
        // apart, so these percentiles, not the back-to-back ones, are what a mint pays.
        let idle = || {
            let quiet = Instant::now();
            while quiet.elapsed() < Duration::from_micros(250) {}
        };
        print_after("250 µs idle", &mut timed_after(idle, call));
    }
}

/// `n` calls back to back on the runtime, each timed, in ns.
async fn call_many(
    engine: &PolicyEngine,
    policy: &CompiledPolicy,
    input: &GuestInput,
    n: usize,
) -> Vec<u64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(decide(engine, policy, input).await.unwrap());
        samples.push(t.elapsed().as_nanos() as u64);
    }
    samples
}

/// 2,000 timings of `call` (which times itself), each right after `before`, in ns.
fn timed_after(mut before: impl FnMut(), mut call: impl FnMut() -> Vec<u64>) -> Vec<u64> {
    (0..2_000)
        .map(|_| {
            before();
            call()[0]
        })
        .collect()
}

fn print_after(what: &str, samples: &mut [u64]) {
    let (p50, p90, p99) = percentiles(samples);
    println!(
        "{:16} after {what}: p50 {p50:5.1} µs  p90 {p90:5.1} µs  p99 {p99:5.1} µs",
        ""
    );
}

/// (p50, p90, p99) in µs.
fn percentiles(samples: &mut [u64]) -> (f64, f64, f64) {
    samples.sort_unstable();
    let n = samples.len();
    let pct = |p: f64| samples[((n as f64 * p) as usize).min(n - 1)] as f64 / 1e3;
    (pct(0.50), pct(0.90), pct(0.99))
}
