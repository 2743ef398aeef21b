//! The token endpoint in process: CPU per refresh mint (rotation, policy chain, decision
//! log, RS256 signature, JSON) with 0, 1 and 3 policies bound, without HTTP or a load
//! driver in the way. Everything runs on one thread, the decision log's writer included,
//! and the figure is the process's CPU time (idle waits, such as the writer gathering a
//! batch, are not CPU and would mislead). Rounds of the three set-ups are interleaved; each
//! set-up's median round is reported, and what the policies add is the median of the
//! per-round differences, which keeps drift (page cache, WAL growth, a busy neighbour on the
//! host) out of it.
//!
//! `cargo bench -p lanyard --bench mint` (pin it for steadier numbers:
//! `taskset -c 1 cargo bench ...`). `MINT_ROUNDS` and `MINT_PER_ROUND` size the run; `MINT_SETUPS`
//! picks the set-ups, and `N@folder` takes a set-up's modules from another build of the
//! policies, to compare two builds in one interleaved run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};
use http_body_util::BodyExt;
use lanyard::app::App;
use lanyard::config::Config;
use lanyard::domain::{AuthMethod, GrantType, ScopeSet, SignInMethods};
use lanyard::http::request::Req;
use lanyard::secret::SecretHash;
use lanyard::store::{Client, ClientSource, Grant, User};

const RESOURCE: &str = "http://127.0.0.1:9/mcp";

/// The bindings of `bench/run.sh`, in the same order.
fn bindings(dir: &Path, n: usize) -> String {
    let module = |file: &str| dir.join(file).display().to_string();
    let all = [
        format!(
            "[[policies]]\nname = \"tier\"\nmodule = {:?}\nconfig = {{ default = \"free\", tiers = {{ free = {{ drop_scopes = [\"write\"], notice = \"Write needs Pro.\" }}, pro = {{ entitlements = [\"export\"] }} }} }}\n",
            module("purchase_tier.wasm")
        ),
        format!(
            "[[policies]]\nname = \"org\"\nmodule = {:?}\nconfig = {{ domains = {{ \"example.com\" = \"org_example\" }} }}\n",
            module("org_membership.wasm")
        ),
        format!(
            "[[policies]]\nname = \"extra\"\nmodule = {:?}\nconfig = {{ mode = \"ok\" }}\n",
            module("hostile_policy.wasm")
        ),
    ];
    all[..n].concat()
}

/// One server's state and the refresh token it will be asked to rotate next.
struct Setup {
    policies: usize,
    /// Where its modules came from, when not from this build.
    modules: Option<PathBuf>,
    app: Arc<App>,
    refresh: String,
    _dir: tempfile::TempDir,
}

async fn setup(policies: usize, modules: &Path) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lanyard.toml"), bindings(modules, policies)).unwrap();
    let env = HashMap::from([
        (
            "LANYARD_ISSUER".to_string(),
            "http://127.0.0.1:9".to_string(),
        ),
        (
            "LANYARD_DATA_DIR".to_string(),
            dir.path().join("data").display().to_string(),
        ),
        ("LANYARD_RESOURCES".to_string(), RESOURCE.to_string()),
    ]);
    let (config, _) = Config::load(dir.path(), &env).unwrap();
    let app = App::build(config).await.unwrap();
    let now = app.now();
    app.stores
        .users
        .create_user(&User {
            sub: "u-bench".parse().unwrap(),
            email: "bench@example.com".parse().unwrap(),
            password_hash: "unused".into(),
            metadata: serde_json::json!({"tiers": {RESOURCE: "pro"}}).to_string(),
            email_verified: true,
            disabled_at: None,
            session_epoch: 0,
            created_at: now,
        })
        .await
        .unwrap();
    app.stores
        .clients
        .create_client(&Client {
            id: "c-bench".parse().unwrap(),
            secret_hash: None,
            name: Some("Bench".into()),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            auth_method: AuthMethod::None,
            scope: None,
            metadata: serde_json::json!({}),
            source: ClientSource::Operator,
            created_at: now,
        })
        .await
        .unwrap();
    let refresh = "rt-bench-0".to_string();
    let grant = Grant {
        id: "g-bench".into(),
        client_id: "c-bench".parse().unwrap(),
        sub: "u-bench".parse().unwrap(),
        resource: RESOURCE.parse().unwrap(),
        scopes: ScopeSet::parse("read write").unwrap(),
        auth_time: now,
        amr: SignInMethods::password(),
        created_at: now,
        expires_at: now + 86_400,
        revoked_at: None,
    };
    app.stores
        .grants
        .create_grant(&grant, Some(&SecretHash::of(&refresh)))
        .await
        .unwrap();
    Setup {
        policies,
        modules: None,
        app,
        refresh,
        _dir: dir,
    }
}

/// One refresh through the token endpoint's handler; returns the successor token.
async fn mint(s: &Setup) -> String {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let req = Req {
        method: Method::POST,
        path: "/oauth/token".into(),
        query: None,
        headers,
        body: Bytes::from(format!(
            "grant_type=refresh_token&client_id=c-bench&refresh_token={}",
            s.refresh
        )),
        peer: "127.0.0.1:1".parse().unwrap(),
        client: "127.0.0.1".parse().unwrap(),
        id: String::new(),
    };
    let resp = lanyard::oauth::token::handle(&s.app, &req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    match json["refresh_token"].as_str() {
        Some(token) => token.to_string(),
        None => panic!("the refresh was refused: {json}"),
    }
}

fn main() {
    let modules = support::build_policies();
    let rounds: usize = std::env::var("MINT_ROUNDS").map_or(25, |v| v.parse().unwrap());
    let per_round: usize = std::env::var("MINT_PER_ROUND").map_or(500, |v| v.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut setups = Vec::new();
        for (n, from) in setup_list() {
            let mut s = setup(n, from.as_deref().unwrap_or(&modules)).await;
            s.modules = from;
            setups.push(s);
        }
        for s in &mut setups {
            for _ in 0..200 {
                s.refresh = mint(s).await;
            }
        }
        let mut micros: Vec<Vec<f64>> = vec![Vec::new(); setups.len()];
        for round in 0..rounds {
            // Every other round runs the set-ups in reverse, so that none always follows
            // the same one.
            let mut order: Vec<usize> = (0..setups.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let s = &mut setups[i];
                let started = cpu_ns();
                for _ in 0..per_round {
                    s.refresh = mint(s).await;
                }
                // Let the decision log's writer catch up inside the round it belongs to.
                s.app.decisions.flush().await;
                micros[i].push(cpu_ns().saturating_sub(started) as f64 / 1e3 / per_round as f64);
            }
        }
        let base = median(&mut micros[0].clone());
        for (s, m) in setups.iter().zip(&micros) {
            // The cost of the policies is the median of each round's difference from the
            // baseline's round beside it: on a shared host whole rounds run slower or faster
            // (by a third, on the VMs we measure on), and that drift cancels within a round
            // but not between the medians of whole set-ups.
            let mut added: Vec<f64> = m.iter().zip(&micros[0]).map(|(x, b)| x - b).collect();
            let added = median(&mut added);
            let mut sorted = m.clone();
            let (lo, mid, hi) = (min(m), median(&mut sorted), max(m));
            println!(
                "refresh mint, {} {:8} {mid:6.1} µs (rounds {lo:.1}–{hi:.1}) {added:+6.1} µs {:+5.1} %{}",
                s.policies,
                if s.policies == 1 {
                    "policy"
                } else {
                    "policies"
                },
                added / base * 100.0,
                s.modules
                    .as_ref()
                    .map(|d| format!(" (modules from {})", d.display()))
                    .unwrap_or_default()
            );
        }
    });
}

/// `MINT_SETUPS=0,1,1@/other/build` picks the set-ups (policies bound, and optionally the
/// folder their modules come from); the first is the baseline.
fn setup_list() -> Vec<(usize, Option<PathBuf>)> {
    let Ok(list) = std::env::var("MINT_SETUPS") else {
        return vec![(0, None), (1, None), (3, None)];
    };
    list.split(',')
        .map(|item| match item.trim().split_once('@') {
            Some((n, dir)) => (n.parse().unwrap(), Some(PathBuf::from(dir))),
            None => (item.trim().parse().unwrap(), None),
        })
        .collect()
}

/// The process's CPU time so far, in ns: every thread's (Linux schedstat). Not this
/// thread's alone, since a policy call that goes to the blocking pool runs on another one;
/// counting only this thread once made such mints look cheaper than inline ones.
fn cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .expect("task list")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}
