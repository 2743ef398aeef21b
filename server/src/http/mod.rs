//! The hyper service: accepts connections, holds slow and idle clients to deadlines, reads
//! bodies within limits, tags every request with an id, routes, and renders.
//!
//! Shutdown is a rolling restart's friend. On SIGTERM/SIGINT the server first drains: for
//! the configured delay it keeps serving, answers `/readyz` with 503 so that the load
//! balancer takes it out, and closes each connection after its response so that no client
//! keeps sending on a connection about to close. Then it stops accepting and lets requests
//! in flight finish.

pub mod client_addr;
pub mod conn;
pub mod cookies;
pub mod cors;
pub mod rate;
pub mod request;
pub mod response;
mod router;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::Instrument;

pub use request::Req;
pub use response::Resp;

use crate::app::App;
use crate::metrics::Endpoint;

/// The largest body the admin listener reads: a policy module, at most.
const ADMIN_MAX_BODY: usize = 32 << 20;

/// How long in-flight requests get to finish once the server stops accepting.
const DRAIN: Duration = Duration::from_secs(20);

/// What this instance says about itself at `/readyz`: it is ready from the moment it
/// listens (keys loaded and policies compiled before that) until it starts draining.
#[derive(Debug, Default)]
pub struct Lifecycle {
    draining: AtomicBool,
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

/// The two ports: the public one, and the admin one that only operators' tools reach.
#[derive(Debug)]
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Public,
    Admin,
}

/// What every connection's requests share.
struct Served {
    app: Arc<App>,
    lifecycle: Lifecycle,
    ids: AtomicU64,
    /// Starts every request id of this process, so that ids from several instances (or
    /// restarts) never collide in the logs and the audit log.
    instance: String,
}

/// One accepted connection, held to its deadlines, each request tagged with an id.
fn connection(
    served: &Arc<Served>,
    builder: &auto::Builder<TokioExecutor>,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    port: Port,
) -> impl hyper_util::server::graceful::GracefulConnection<Error: std::fmt::Display> + use<> {
    let (stream, activity) = conn::Timed::new(stream, served.app.config.connections);
    let served = served.clone();
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let serving = activity.begin();
        let served = served.clone();
        let id = format!(
            "{}-{}",
            served.instance,
            served.ids.fetch_add(1, Ordering::Relaxed)
        );
        let span =
            tracing::info_span!("request", %id, method = %req.method(), path = %req.uri().path());
        async move {
            let resp = handle(&served.app, &served.lifecycle, port, req, peer, id).await;
            drop(serving);
            Ok::<_, Infallible>(resp)
        }
        .instrument(span)
    });
    builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .into_owned()
}

/// Serves until `shutdown` resolves, then drains.
pub async fn serve(
    app: Arc<App>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Header deadlines are `conn::Timed`'s, which also bounds idle keep-alive connections.
    builder.http1().header_read_timeout(None);
    let limits = app.config.connections;
    let instance = app.random.id().chars().take(8).collect();
    let served = Arc::new(Served {
        app,
        lifecycle: Lifecycle::default(),
        ids: AtomicU64::new(0),
        instance,
    });
    let lifecycle = &served.lifecycle;
    // Far off until the drain begins.
    let drain_ends = tokio::time::sleep(Duration::from_secs(86_400 * 365));
    tokio::pin!(shutdown, drain_ends);
    loop {
        let draining = lifecycle.is_draining();
        let (accepted, port) = tokio::select! {
            accepted = listeners.public.accept() => (accepted, Port::Public),
            accepted = listeners.admin.accept() => (accepted, Port::Admin),
            () = &mut shutdown, if !draining => {
                tracing::info!(delay = ?limits.drain_delay, "draining: /readyz answers 503 while requests are still served");
                lifecycle.draining.store(true, Ordering::Relaxed);
                drain_ends.as_mut().reset(tokio::time::Instant::now() + limits.drain_delay);
                continue;
            }
            () = &mut drain_ends, if draining => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = connection(&served, &builder, stream, peer, port);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with error");
            }
        });
    }
    tracing::info!("shutting down: finishing requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN) => tracing::warn!("drain timed out; closing remaining connections"),
    }
    Ok(())
}

async fn handle(
    app: &App,
    lifecycle: &Lifecycle,
    port: Port,
    req: hyper::Request<Incoming>,
    peer: std::net::SocketAddr,
    id: String,
) -> Resp {
    let started = std::time::Instant::now();
    let endpoint = Endpoint::of(router::local_path(app, req.uri().path()));
    let config = &app.config;
    let client = client_addr::client_addr(peer.ip(), req.headers(), &config.trusted_proxies);
    // Policy modules are pushed to the admin API whole.
    let limit = match port {
        Port::Public => config.max_body_bytes,
        Port::Admin => config.max_body_bytes.max(ADMIN_MAX_BODY),
    };
    let read = Req::read(
        req,
        limit,
        config.connections.body_timeout,
        peer,
        client,
        id.clone(),
    );
    let mut resp = match read.await {
        Ok(req) => match port {
            Port::Public => router::route(app, lifecycle, &req).await,
            Port::Admin => router::admin(app, lifecycle, &req).await,
        },
        Err(resp) => resp,
    };
    // The id in the logs, echoed so that a user's report can be matched to them.
    if let Ok(v) = http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    if app.config.is_https() {
        // Browsers that reached the issuer over https once never try plain http again.
        resp.headers_mut().insert(
            http::header::STRICT_TRANSPORT_SECURITY,
            http::HeaderValue::from_static("max-age=31536000"),
        );
    }
    if lifecycle.is_draining() {
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    app.metrics
        .observe(endpoint, resp.status().as_u16(), started.elapsed());
    tracing::debug!(
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "done"
    );
    resp
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
