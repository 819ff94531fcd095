//! The Picket collector: receives probe results from agents, confirms
//! failures with a quorum double-check, runs the maintenance-request
//! lifecycle, sends webhooks, and serves the client API.
//!
//! # Layout
//!
//! Data flows one way, each step an actor that owns its state:
//!
//! ```text
//! link (session per agent) → ingest → evaluator → lifecycle → store (events + outbox) → notifier
//! ```
//!
//! - [`config`]: TOML → validated [`config::Config`].
//! - [`domain`]: plain types (states, outcomes, quorum) shared by all.
//! - [`link`]: the `AgentLink` gRPC service and one session task per agent.
//! - [`agents`]: the registry actor (live sessions, assignment), the
//!   liveness actor (dead-man's switch), enrollment, the directory.
//! - [`ingest`]: batched, acknowledged persistence of results and
//!   heartbeats.
//! - [`evaluator`]: per-service trackers and recheck rounds.
//! - [`lifecycle`]: verdicts → states, requests, events.
//! - [`maintenance`]: windows per equipment with exact-end timers.
//! - [`notifier`]: webhook delivery from the outbox.
//! - [`retention`]: the pruner, deleting rows older than `[retention]`.
//! - [`store`]: the only module that writes SQL.
//! - [`api`], [`http`]: the client gRPC API and the HTTP endpoints.
//! - [`tls`]: outgoing TLS, and the listeners' TLS (hot-reloadable
//!   certificates); [`reload`]: what SIGHUP does ([`run_reloadable`]).
//!
//! [`run`] cuts the config into each actor's settings
//! ([`config::settings::Settings`]), wires the actors together and shuts
//! them down with one cancellation token and one task tracker. Every
//! wall-clock time is read from one [`time::Clock`] handed to the parts
//! that stamp times ([`run_with_clock`]); `testing` has the paused-clock
//! test helpers.

pub mod agents;
pub mod api;
pub mod auth_limit;
pub mod config;
pub mod domain;
pub mod evaluator;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod ingest;
pub mod lifecycle;
pub mod link;
pub mod maintenance;
pub mod metrics;
pub mod notifier;
pub mod redact;
pub mod reload;
pub mod retention;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::agents::{AgentsHandle, LivenessHandle, StoreRequests};
use crate::config::Config;
use crate::config::settings::Settings;
use crate::evaluator::EvaluatorHandle;
use crate::ingest::IngestHandle;
use crate::lifecycle::LifecycleHandle;
use crate::maintenance::MaintenanceHandle;
use crate::store::{Store, StoreError};
use crate::time::Clock;

/// The listeners the collector serves on, bound by the caller.
pub struct Listeners {
    /// Agents (`AgentLink`) and clients (`Picket`, health, reflection).
    pub grpc: TcpListener,
    /// `/healthz`, `/readyz`.
    pub http: TcpListener,
}

/// Why the collector stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notifier(#[from] notifier::NotifierError),
    #[error("grpc reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("grpc server: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("http server: {0}")]
    Http(#[from] std::io::Error),
    #[error("tls: {0}")]
    Tls(#[from] tls::TlsError),
}

/// How long shutdown waits for actors to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the collector on the system clock until `shutdown` completes or a
/// server fails.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    serve(
        config,
        listeners,
        Clock::system(),
        reload::Source::none(),
        shutdown,
    )
    .await
}

/// [`run`], reloading the configuration from `reloads.path` on each
/// request on `reloads.requests` (SIGHUP in the binary) and on each
/// `Reload` call, as [`reload`] describes.
pub async fn run_reloadable(
    config: Config,
    listeners: Listeners,
    reloads: reload::Source,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    serve(config, listeners, Clock::system(), reloads, shutdown).await
}

/// [`run_with_clock`] whose `Reload` calls re-read `reloads.path` (the
/// in-process test harness).
pub async fn run_reloadable_with_clock(
    config: Config,
    listeners: Listeners,
    clock: Clock,
    reloads: reload::Source,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    serve(config, listeners, clock, reloads, shutdown).await
}

/// [`run`] with every wall-clock time (stored times, notes, maintenance
/// ends, webhook retries, round ids) read from `clock`; tests pass one that
/// follows tokio's paused clock.
pub async fn run_with_clock(
    config: Config,
    listeners: Listeners,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    serve(config, listeners, clock, reload::Source::none(), shutdown).await
}

/// [`run_reloadable`], reporting to `health` when it serves and stops (the
/// binary's systemd readiness and watchdog).
pub async fn run_supervised(
    config: Config,
    listeners: Listeners,
    reloads: reload::Source,
    health: health::Health,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    serve_with(
        config,
        listeners,
        Clock::system(),
        reloads,
        health,
        shutdown,
    )
    .await
}

async fn serve(
    config: Config,
    listeners: Listeners,
    clock: Clock,
    reloads: reload::Source,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let health = health::Health::default();
    serve_with(config, listeners, clock, reloads, health, shutdown).await
}

async fn serve_with(
    config: Config,
    listeners: Listeners,
    clock: Clock,
    reloads: reload::Source,
    health_report: health::Health,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let settings = Settings::from(&config);
    let server_tls = match &config.collector.tls {
        Some(section) => Some(Arc::new(tls::ServerTls::load(section)?)),
        None => None,
    };
    let started = std::time::Instant::now();
    let store = Store::open(&config.collector.database, settings.events, clock.clone()).await?;
    store.sync_config(&settings.catalog).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "start-up: catalog stored");
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let initial: HashMap<_, _> = store
        .service_states()
        .await?
        .into_iter()
        .map(|(id, state, open)| (id, (state, open)))
        .collect();
    tracing::debug!(elapsed = ?started.elapsed(), "start-up: states read");
    let metrics = Arc::new(metrics::Metrics::new());
    metrics.start(&store, &config, &initial).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "start-up: metrics seeded");
    let (reload, reload_calls) = reload::channel();

    let (maintenance, maintenance_set) = MaintenanceHandle::spawn(
        store.clone(),
        settings.maintenance,
        clock.clone(),
        cancel.clone(),
        &tasks,
    )
    .await?;
    let lifecycle = LifecycleHandle::spawn(
        store.clone(),
        settings.lifecycle,
        metrics.clone(),
        clock.clone(),
        cancel.clone(),
        &tasks,
    );
    let liveness = LivenessHandle::spawn(
        StoreRequests::new(
            store.clone(),
            metrics.clone(),
            settings.liveness,
            clock.clone(),
        ),
        settings.liveness,
        agents::load_watched(&store).await?,
        cancel.clone(),
        &tasks,
    );
    let agents = AgentsHandle::spawn(
        store.clone(),
        settings.registry,
        metrics.clone(),
        maintenance_set.clone(),
        liveness.clone(),
        cancel.clone(),
        &tasks,
    );
    let evaluator = EvaluatorHandle::spawn(
        settings.evaluator,
        evaluator::Start::new(initial, &clock),
        agents.directory(),
        maintenance_set,
        lifecycle,
        metrics.clone(),
        cancel.clone(),
        &tasks,
    );
    let ingest = IngestHandle::spawn(
        store.clone(),
        metrics.clone(),
        evaluator.clone(),
        cancel.clone(),
        &tasks,
    );
    let notifier = notifier::spawn(
        store.clone(),
        settings.notifier,
        metrics.clone(),
        clock.clone(),
        cancel.clone(),
        &tasks,
    )?;
    let retention = retention::RetentionHandle::spawn(
        store.clone(),
        settings.retention,
        metrics.clone(),
        clock.clone(),
        cancel.clone(),
        &tasks,
    );
    let webhooks = notifier.receivers();
    tracing::debug!(elapsed = ?started.elapsed(), "start-up: actors spawned");
    let api_settings = Arc::new(arc_swap::ArcSwap::from_pointee(settings.api));
    let http_addr = listeners.http.local_addr()?;
    let live = reload::Live {
        store: store.clone(),
        api: api_settings.clone(),
        notifier,
        maintenance: maintenance.clone(),
        liveness,
        evaluator: evaluator.clone(),
        agents: agents.clone(),
        retention,
        metrics: metrics.clone(),
    };
    let reloader = reload::Reloader {
        path: reloads.path,
        running: config,
        http_addr,
        tls: server_tls.clone(),
        live,
        metrics: metrics.clone(),
        clock: clock.clone(),
    };
    reload::spawn(
        reloader,
        reloads.requests,
        reload_calls,
        cancel.clone(),
        &tasks,
    );

    let (health, health_service) = api::health();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let (reflection_v1, reflection_v1alpha) = api::reflections()?;
    let limiter = auth_limit::AuthLimiter::new(metrics.clone());
    let link = link::AgentLinkService::new(
        agents.clone(),
        ingest,
        limiter.clone(),
        clock,
        cancel.clone(),
        tasks.clone(),
        metrics.clone(),
    );
    let (pages_agents, pages_tokens) = (agents.clone(), api_settings.clone());
    let pages_agents_for_health = agents.clone();
    let api = api::PicketApi {
        store: store.clone(),
        settings: api_settings,
        agents,
        maintenance,
        evaluator,
        webhooks,
        limiter,
        cancel: cancel.clone(),
        tasks: tasks.clone(),
        reload,
    };

    let grpc_addr = listeners.grpc.local_addr()?;
    let router = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(link::server(link))
        .add_service(api::server(api));
    let stop_grpc = cancel.clone().cancelled_owned();
    let mut grpc = match &server_tls {
        // TCP_NODELAY as tonic's own listener sets it (no delayed-ACK waits).
        None => tokio::spawn(router.serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listeners.grpc).with_nodelay(Some(true)),
            stop_grpc,
        )),
        Some(t) => {
            let t = t.clone();
            let conns = tls::accept::spawn(
                listeners.grpc,
                move || t.grpc(),
                "grpc",
                cancel.clone(),
                &tasks,
            );
            let incoming =
                tokio_stream::StreamExt::map(ReceiverStream::new(conns), Ok::<_, std::io::Error>);
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stop_grpc))
        }
    };
    let grpc_ready = Arc::new(AtomicBool::new(false));
    let app = http::router(
        store.clone(),
        grpc_ready.clone(),
        metrics.clone(),
        pages_agents,
        pages_tokens,
    );
    let mut http = http::serve(
        listeners.http,
        http_addr,
        app,
        server_tls.as_ref().filter(|t| t.serves_http()),
        &cancel,
        &tasks,
    );
    // The listener is bound, so connections queue until the server polls it.
    grpc_ready.store(true, Ordering::Release);
    health_report.serving(&pages_agents_for_health);
    info!(grpc = %grpc_addr, http = %http_addr, tls = server_tls.is_some(), "collector listening");

    let result = tokio::select! {
        r = &mut grpc => r.unwrap_or_else(|e| { warn!(error = %e, "grpc server task failed"); Ok(()) }).map_err(RunError::from),
        r = &mut http => r.unwrap_or_else(|e| { warn!(error = %e, "http server task failed"); Ok(()) }).map_err(RunError::from),
        () = shutdown => Ok(()),
    };
    info!("shutting down");
    grpc_ready.store(false, Ordering::Release);
    health_report.stopping();
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    cancel.cancel();
    tasks.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tasks.wait())
        .await
        .is_err()
    {
        warn!("some tasks did not finish within {DRAIN_TIMEOUT:?}");
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = grpc.await;
        let _ = http.await;
    })
    .await;
    store.close().await;
    result
}
