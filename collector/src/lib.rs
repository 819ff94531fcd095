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
pub mod backoff;
pub mod config;
pub mod domain;
pub mod evaluator;
pub mod health;
pub mod healthcheck;
pub mod heartbeats;
pub mod http;
pub mod ingest;
pub mod leader;
pub mod lifecycle;
pub mod link;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod mute;
pub mod notifier;
pub mod redact;
pub mod reload;
pub mod reminders;
pub mod retention;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
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
    /// Another collector took the lease, or it could not be renewed in
    /// time (the database did not answer): this one stops so its
    /// supervisor restarts it, to stand by or campaign afresh.
    #[error("leadership lost: another collector leads, or the lease could not be renewed")]
    LostLeadership,
}

/// How long shutdown waits for actors to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for the store to release the lease, and to close.
const STORE_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

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
        health::Health::default(),
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
    serve(
        config,
        listeners,
        Clock::system(),
        reloads,
        health::Health::default(),
        shutdown,
    )
    .await
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
    serve(
        config,
        listeners,
        clock,
        reloads,
        health::Health::default(),
        shutdown,
    )
    .await
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
    serve(
        config,
        listeners,
        clock,
        reload::Source::none(),
        health::Health::default(),
        shutdown,
    )
    .await
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
    serve(
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
    health_report: health::Health,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let server_tls = match &config.collector.tls {
        Some(section) => Some(Arc::new(tls::ServerTls::load(section)?)),
        None => None,
    };
    // Only the event routing: the actors' settings are cut once the
    // collector leads (`leader::start`).
    let events = crate::store::EventSettings::from(&config);
    let store = Store::open(&config.collector.database, events, clock.clone()).await?;
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let metrics = Arc::new(metrics::Metrics::new());
    let http_addr = listeners.http.local_addr()?;
    let grpc_addr = listeners.grpc.local_addr()?;
    let role = leader::role_cell();
    let grpc_ready = Arc::new(AtomicBool::new(false));
    let (standby_api, standby_http) = leader::standby::services(
        &config,
        &store,
        &metrics,
        grpc_ready.clone(),
        role.clone(),
        &cancel,
        &tasks,
    );
    let link_gate = leader::gate::Gate::new(role.clone());
    let api_gate = leader::gate::Gate::new(role.clone()).with_standby(standby_api);
    let http_gate =
        leader::gate::HttpGate::new(role.clone(), metrics.clone()).with_standby(standby_http);
    let candidate = leader::Candidate {
        store: store.clone(),
        id: leader::instance_id(),
        advertise_url: reload::with_bound_port(&config.collector.advertise_url, grpc_addr),
        lease: config.collector.leader_lease,
        clock: clock.clone(),
        metrics: metrics.clone(),
        role,
    };
    let parts = leader::start::Parts {
        config,
        store: store.clone(),
        metrics: metrics.clone(),
        clock,
        reloads,
        server_tls: server_tls.clone(),
        http_addr,
        grpc_ready: grpc_ready.clone(),
        health: health_report.clone(),
        link: link_gate.clone(),
        api: api_gate.clone(),
        http: http_gate.clone(),
    };
    let lost = CancellationToken::new();
    let lead = async {
        let Some(won) = leader::campaign(&candidate, &cancel).await else {
            return std::future::pending().await;
        };
        leader::spawn_renewals(candidate.clone(), won, lost.clone(), cancel.clone(), &tasks);
        leader::start::start(parts, &cancel, &tasks).await?;
        lost.cancelled().await;
        Err(RunError::LostLeadership)
    };

    let (health, health_service) = api::health();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let (reflection_v1, reflection_v1alpha) = api::reflections()?;
    let router = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(link_gate)
        .add_service(api_gate);
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
    let app = http_gate.router();
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
    health_report.serving();
    info!(grpc = %grpc_addr, http = %http_addr, tls = server_tls.is_some(), "collector listening");

    let result = tokio::select! {
        r = &mut grpc => r.unwrap_or_else(|e| { warn!(error = %e, "grpc server task failed"); Ok(()) }).map_err(RunError::from),
        r = &mut http => r.unwrap_or_else(|e| { warn!(error = %e, "http server task failed"); Ok(()) }).map_err(RunError::from),
        r = lead => r,
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
    // A clean stop hands the lease over at once (a crash: when it ends).
    // Neither waits long for a database that does not answer.
    // (Not when the leadership was lost: the lease is not this one's.)
    let release = async {
        match &result {
            Err(RunError::LostLeadership) => Ok(()),
            _ => store.release(&candidate.id).await,
        }
    };
    match tokio::time::timeout(STORE_CLOSE_TIMEOUT, release).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "releasing the leader lease failed"),
        Err(_) => warn!("releasing the leader lease: no answer from the database"),
    }
    let _ = tokio::time::timeout(STORE_CLOSE_TIMEOUT, store.close()).await;
    result
}
