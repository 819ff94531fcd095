//! What a standby serves from the store while another collector leads:
//! the `Picket` API in [`api::Mode::Standby`] (the read calls answer from
//! the store; admin calls are refused naming the leader)
//! and the HTTP app (status pages, badges and `/metrics`; the gate answers
//! `/readyz` with 503 itself). No actor runs behind them: a standby writes
//! nothing. Its tokens are those it started with (a reload runs on the
//! leader only).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use picket_proto::v1::picket_server::PicketServer;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::RoleCell;
use crate::agents::AgentsView;
use crate::config::Config;
use crate::config::settings::{ApiSettings, LivenessSettings, NotifierSettings};
use crate::metrics::Metrics;
use crate::notifier::Receivers;
use crate::store::Store;
use crate::{api, auth_limit, http};

/// The standby's API service and HTTP app, over `store`.
pub(crate) fn services(
    config: &Config,
    store: &Store,
    metrics: &Arc<Metrics>,
    grpc_ready: Arc<AtomicBool>,
    role: RoleCell,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> (PicketServer<api::PicketApi>, Router) {
    // Only the parts a standby reads (the actors' settings, a copy per
    // service, are cut when it leads).
    let agents = AgentsView::Standby {
        store: store.clone(),
        dead_after: LivenessSettings::from(config).dead_after(),
    };
    let tokens = Arc::new(arc_swap::ArcSwap::from_pointee(ApiSettings::from(config)));
    let app = http::router(
        store.clone(),
        grpc_ready,
        metrics.clone(),
        agents.clone(),
        tokens.clone(),
    );
    let service = api::server(api::PicketApi {
        store: store.clone(),
        settings: tokens,
        agents,
        webhooks: Receivers::configured_only(&NotifierSettings::from(config).webhooks),
        limiter: auth_limit::AuthLimiter::new(metrics.clone()),
        cancel: cancel.clone(),
        tasks: tasks.clone(),
        mode: api::Mode::Standby(api::Standby {
            role,
            schedules: Arc::new(crate::config::settings::MaintenanceSettings::from(config).windows),
        }),
    });
    (service, app)
}
