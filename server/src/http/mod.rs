//! The hyper service: accepts connections, reads bodies within limits, tags every request
//! with an id, routes, and renders. Shuts down gracefully: on SIGTERM/SIGINT it stops
//! accepting and lets requests in flight finish.

pub mod cookies;
pub mod cors;
pub mod request;
pub mod response;
mod router;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(20);

/// Serves until `shutdown` resolves, then drains.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let ids = Arc::new(AtomicU64::new(0));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let ids = ids.clone();
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            let app = app.clone();
            let id = ids.fetch_add(1, Ordering::Relaxed);
            let span = tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path());
            async move { Ok::<_, Infallible>(handle(&app, req, peer, id).await) }.instrument(span)
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with error");
            }
        });
    }
    tracing::info!("shutting down: draining requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN) => tracing::warn!("drain timed out; closing remaining connections"),
    }
    Ok(())
}

async fn handle(
    app: &App,
    req: hyper::Request<Incoming>,
    peer: std::net::SocketAddr,
    id: u64,
) -> Resp {
    let started = std::time::Instant::now();
    let mut resp = match Req::read(req, app.config.max_body_bytes, peer).await {
        Ok(req) => router::route(app, &req).await,
        Err(resp) => resp,
    };
    // The id in the logs, echoed so that a user's report can be matched to them.
    resp.headers_mut()
        .insert("x-request-id", http::HeaderValue::from(id));
    app.metrics
        .observe(resp.status().as_u16(), started.elapsed());
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
