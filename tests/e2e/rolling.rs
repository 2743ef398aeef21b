//! A rolling restart behind a real load balancer: two instances on the production store
//! behind HAProxy, each stopped with SIGTERM and started again in turn while clients keep
//! sending requests through the balancer on kept-alive connections. Not one request may
//! fail, and the refresh-token chain a client follows throughout must never break.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::fixtures::*;
use crate::support::*;

/// What a stream of requests saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.failed.lock().unwrap().push(e),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_haproxy_drops_no_request() {
    let Some(store) = production_store().await else {
        return;
    };
    let lb_port = free_port();
    let issuer = format!("http://127.0.0.1:{lb_port}");
    let mut settings = store.env();
    settings.push(("LANYARD_ISSUER", &issuer));
    // Longer than HAProxy needs to see an instance leave (two failed checks 200 ms apart).
    settings.push(("LANYARD_DRAIN_DELAY_SECS", "2"));
    let mut a = TestServer::spawn_with(&settings).await;
    let mut b = TestServer::spawn_with(&settings).await;
    let Some(lb) = Haproxy::start(lb_port, &[a.port, b.port]).await else {
        return;
    };
    a.add_user(EMAIL);
    let connected = a.connect(EMAIL, None).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (reads, refreshes) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
    let mut streams = Vec::new();
    for _ in 0..3 {
        let (stop, reads, url) = (
            stop.clone(),
            reads.clone(),
            lb.url("/.well-known/oauth-authorization-server"),
        );
        streams.push(tokio::spawn(async move {
            let http = client();
            while !stop.load(Ordering::Relaxed) {
                let outcome = match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    Ok(r) => Err(format!("metadata: {}", r.status())),
                    Err(e) => Err(format!("metadata: {e}")),
                };
                reads.record(outcome);
            }
        }));
    }
    let chain = {
        let (stop, refreshes) = (stop.clone(), refreshes.clone());
        let (url, resource) = (lb.url("/oauth/token"), format!("{issuer}/mcp"));
        let client_id = connected.client_id.clone();
        let mut token = connected.refresh_token().to_string();
        tokio::spawn(async move {
            let http = client();
            while !stop.load(Ordering::Relaxed) {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                    ("client_id", client_id.as_str()),
                    ("resource", resource.as_str()),
                ];
                let outcome = match http.post(&url).form(&form).send().await {
                    Ok(r) if r.status() == 200 => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        match body["refresh_token"].as_str() {
                            Some(next) => {
                                token = next.to_string();
                                Ok(())
                            }
                            None => Err(format!("refresh: no token in {body}")),
                        }
                    }
                    Ok(r) => Err(format!(
                        "refresh: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => Err(format!("refresh: {e}")),
                };
                let broken = outcome.is_err();
                refreshes.record(outcome);
                if broken {
                    break;
                }
            }
        })
    };

    for server in [&mut a, &mut b] {
        let before = (
            reads.ok.load(Ordering::Relaxed),
            refreshes.ok.load(Ordering::Relaxed),
        );
        let status = tokio::task::block_in_place(|| server.terminate()).expect("running");
        assert!(status.success(), "{status:?}\n{}", server.logs());
        assert!(server.start().await, "restart: {}", server.logs());
        lb.wait_until_up(2).await;
        // Traffic flowed while this instance was away, so the restart was under load.
        assert!(reads.ok.load(Ordering::Relaxed) > before.0);
        assert!(refreshes.ok.load(Ordering::Relaxed) > before.1);
    }
    stop.store(true, Ordering::Relaxed);
    for stream in streams {
        stream.await.unwrap();
    }
    chain.await.unwrap();

    let failed = [&reads, &refreshes].map(|t| t.failed.lock().unwrap().clone());
    assert!(
        failed.iter().all(Vec::is_empty),
        "failed requests: {failed:?}"
    );
    drop((lb, a, b));
    store.finish().await;
}
