//! Hot reload under load: a policy module replaced while mints stream fails none of them,
//! and a broken module is refused while the running version keeps serving.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::build::*;
use super::kit::*;

/// Replaces `path` the way a deploy should: a new file renamed over the old one.
fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// What one refresh chain saw: the `build` claim of each mint, in order, and every jti.
#[derive(Default)]
struct Chain {
    builds: Vec<String>,
    jtis: Vec<String>,
}

/// Refreshes one grant over and over, always with its newest refresh token, until `stop`.
async fn run_chain(
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    mut rt: String,
    stop: Arc<AtomicBool>,
    minted: Arc<[AtomicUsize; 2]>,
) -> Chain {
    let mut chain = Chain::default();
    while !stop.load(Ordering::Relaxed) {
        let r = http
            .post(&token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &client_id),
                ("resource", TOOLS),
            ])
            .send()
            .await
            .expect("refresh");
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(
            status,
            200,
            "refresh #{} of {client_id} failed during the reload: {body}",
            chain.builds.len() + 1
        );
        let at = access_claims(&body);
        let build = at["build"]
            .as_str()
            .unwrap_or_else(|| panic!("no build claim: {at}"))
            .to_string();
        minted[usize::from(build == "2")].fetch_add(1, Ordering::Relaxed);
        chain.builds.push(build);
        chain.jtis.push(at["jti"].as_str().unwrap().to_string());
        rt = body["refresh_token"].as_str().unwrap().to_string();
    }
    chain
}

#[tokio::test]
async fn a_policy_swapped_under_load_fails_no_mint_and_a_broken_one_is_refused() {
    const CHAINS: usize = 4;
    let m = modules();
    let server = spawn_with_policies(
        &[hostile(m, json!({"mode": "ok"}))],
        &[("LANYARD_POLICY_POLL_MS", "100")],
    )
    .await;
    let module = server
        .dir
        .path()
        .join("policies")
        .join(m.hostile.file_name().unwrap());
    server.add_user("ada@example.com");
    let mut grants = Vec::new();
    let mut jtis = Vec::new();
    for _ in 0..CHAINS {
        let c = connect_to(&server, "ada@example.com", Some("read"), TOOLS).await;
        let at = access_claims(&c.tokens);
        assert_eq!(
            (&at["hostile_mode"], &at["build"]),
            (&json!("ok"), &json!("1"))
        );
        jtis.push(at["jti"].as_str().unwrap().to_string());
        grants.push((c.client_id.clone(), c.refresh_token().to_string()));
    }

    let stop = Arc::new(AtomicBool::new(false));
    // Mints seen so far by all chains: [with v1, with v2].
    let minted = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let chains: Vec<_> = grants
        .into_iter()
        .map(|(client_id, rt)| {
            let (stop, minted) = (stop.clone(), minted.clone());
            tokio::spawn(run_chain(
                server.http.clone(),
                server.url("/oauth/token"),
                client_id,
                rt,
                stop,
                minted,
            ))
        })
        .collect();
    // The stream is flowing on v1 when the new version lands, and goes on until it has
    // minted plenty with v2 (or a chain failed).
    let flowing = |build: usize, at_least: usize| {
        minted[build].load(Ordering::Relaxed) >= at_least || chains.iter().any(|c| c.is_finished())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !flowing(0, CHAINS * 3) {
        assert!(Instant::now() < deadline, "the refresh stream is stuck");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    replace_file(&module, &std::fs::read(&m.hostile_v2).unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !flowing(1, CHAINS * 3) {
        assert!(
            Instant::now() < deadline,
            "v2 was never loaded: {}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut last = Vec::new();
    for handle in chains {
        let chain = handle.await.expect("a refresh chain failed");
        // Atomic swap: each chain sees v1, then v2, and never v1 again.
        let first_v2 = chain
            .builds
            .iter()
            .position(|b| b == "2")
            .unwrap_or_else(|| panic!("chain never saw v2: {:?}", chain.builds));
        assert!(
            chain.builds[..first_v2].iter().all(|b| b == "1"),
            "{:?}",
            chain.builds
        );
        assert!(
            chain.builds[first_v2..].iter().all(|b| b == "2"),
            "{:?}",
            chain.builds
        );
        jtis.extend(chain.jtis.iter().cloned());
        last.push(chain);
    }
    // A broken module is refused; the running version keeps serving.
    replace_file(&module, b"\0asm this is not a policy component");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.logs().contains("policy refused") {
        assert!(
            Instant::now() < deadline,
            "the broken module was not noticed: {}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // So is a component with the world's export names but other types (a policy built
    // for another version of the WIT): it is refused at load, not at every call.
    replace_file(&module, &wrong_types_component());
    while server.logs().matches("policy refused").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the mistyped module was not noticed: {}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    healthy(&server).await;
    let c = connect_to(&server, "ada@example.com", Some("read"), TOOLS).await;
    assert_eq!(access_claims(&c.tokens)["build"], "2");
    let (status, body) = refresh(&server, &c.client_id, c.refresh_token(), TOOLS).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(access_claims(&body)["build"], "2");
    jtis.push(
        access_claims(&c.tokens)["jti"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    jtis.push(access_claims(&body)["jti"].as_str().unwrap().to_string());

    // One decision-log entry per mint, each naming the version that decided it.
    let log = decision_log(&server);
    assert_eq!(log.len(), jtis.len(), "one entry per mint");
    let by_jti: HashMap<&str, &Value> = log
        .iter()
        .map(|e| (e["jti"].as_str().unwrap(), e))
        .collect();
    let (v1, v2) = (sha256_hex(&m.hostile), sha256_hex(&m.hostile_v2));
    assert_ne!(v1, v2);
    for chain in &last {
        for (jti, build) in chain.jtis.iter().zip(&chain.builds) {
            let entry = by_jti
                .get(jti.as_str())
                .unwrap_or_else(|| panic!("no log entry for {jti}"));
            let digest = if build == "1" { &v1 } else { &v2 };
            assert_eq!(
                runs_of(entry),
                [("hostile".into(), digest.clone(), "allow".into())]
            );
            assert_eq!(
                (&entry["outcome"], &entry["grant_type"]),
                (&json!("allow"), &json!("refresh_token"))
            );
        }
    }
}

/// A component exporting `consent` and `token` as functions of no arguments and no result:
/// the world's names with other types.
pub(crate) fn wrong_types_component() -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, ComponentBuilder, ComponentExportKind, ExportKind, ExportSection, Function,
        FunctionSection, Instruction, Module, TypeSection,
    };
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut exports = ExportSection::new();
    exports.export("f", ExportKind::Func, 0);
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instruction(&Instruction::End);
    code.function(&body);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&exports)
        .section(&code);

    let mut component = ComponentBuilder::default();
    let m = component.core_module(None, &module);
    let instance = component.core_instantiate(None, m, []);
    let core_f = component.core_alias_export(None, instance, "f", ExportKind::Func);
    let (ty, encoder) = component.ty(None);
    encoder
        .function()
        .params::<_, wasm_encoder::ComponentValType>([])
        .result(None);
    let f = component.lift_func(None, core_f, ty, []);
    component.export("consent", ComponentExportKind::Func, f, None);
    component.export("token", ComponentExportKind::Func, f, None);
    component.finish()
}

#[test]
fn a_component_with_the_worlds_names_but_other_types_is_refused_at_load() {
    use lanyard::policy::engine::{Limits, LoadError, PolicyEngine};

    let engine = PolicyEngine::new(Limits::default(), None).expect("engine");
    let refused = engine.compile("mistyped", &wrong_types_component());
    assert!(
        matches!(&refused, Err(LoadError::WrongWorld(_))),
        "{refused:?}"
    );
    // The real policies pass the same check.
    let m = modules();
    for path in [&m.purchase_tier, &m.hostile] {
        let bytes = std::fs::read(path).expect("module");
        engine.compile("real", &bytes).expect("a real policy loads");
    }
}
