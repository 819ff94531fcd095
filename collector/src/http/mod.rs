//! The collector's HTTP listener: `/healthz` (the process answers) and
//! `/readyz` (the store answers and the gRPC listener accepts), `/metrics`
//! (Prometheus text format or OpenMetrics, `metrics.rs`), the badges
//! (`badge.rs`). The status pages are in [`pages`].

mod badge;
mod metrics;
pub mod pages;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agents::AgentsView;
use crate::config::settings::ApiSettings;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
struct HttpState {
    store: Store,
    metrics: Arc<Metrics>,
    /// Set once the gRPC server accepts connections.
    grpc_ready: Arc<AtomicBool>,
}

/// Every route of the HTTP listener; the status pages need the registry
/// (live agents, assignment) and the API's tokens (swapped by a reload).
pub fn router(
    store: Store,
    grpc_ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    agents: AgentsView,
    api: Arc<ArcSwap<ApiSettings>>,
) -> Router {
    let pages = pages::router(pages::Pages {
        store: store.clone(),
        agents,
        api,
    });
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .route("/badge/{file}", get(badge::status))
        .route("/badge/{id}/uptime.svg", get(badge::uptime))
        .with_state(HttpState {
            store,
            metrics,
            grpc_ready,
        })
        .merge(pages)
}

/// The peer address of an HTTP connection, plain or TLS (handlers take
/// `ConnectInfo<Peer>`; `/ping` limits unknown tokens per address).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, crate::tls::accept::TlsListener>,
    > for Peer
{
    fn connect_info(
        stream: axum::serve::IncomingStream<'_, crate::tls::accept::TlsListener>,
    ) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// Serves `app` on `listener`, bound to `local` (with TLS when `tls` is
/// given), until `cancel` fires.
pub fn serve(
    listener: tokio::net::TcpListener,
    local: std::net::SocketAddr,
    app: Router,
    tls: Option<&Arc<crate::tls::server::ServerTls>>,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let stop = cancel.clone().cancelled_owned();
    match tls {
        None => {
            let app = app.into_make_service_with_connect_info::<Peer>();
            let http = axum::serve(listener, app).with_graceful_shutdown(stop);
            tokio::spawn(async move { http.await })
        }
        Some(t) => {
            let t = t.clone();
            let conns = crate::tls::accept::spawn(
                listener,
                move || t.http(),
                "http",
                cancel.clone(),
                tasks,
            );
            let listener = crate::tls::accept::TlsListener::new(conns, local);
            let app = app.into_make_service_with_connect_info::<Peer>();
            let http = axum::serve(listener, app).with_graceful_shutdown(stop);
            tokio::spawn(async move { http.await })
        }
    }
}

async fn readyz(State(s): State<HttpState>) -> (StatusCode, &'static str) {
    if !s.grpc_ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "grpc listener not ready\n");
    }
    if !s.store.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n");
    }
    (StatusCode::OK, "ready\n")
}
