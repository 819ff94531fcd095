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

use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone)]
struct HttpState {
    store: Store,
    metrics: Arc<Metrics>,
    /// Set once the gRPC server accepts connections.
    grpc_ready: Arc<AtomicBool>,
}

pub fn router(store: Store, grpc_ready: Arc<AtomicBool>, metrics: Arc<Metrics>) -> Router {
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
