//! What a collector starts once it leads: the catalog synced into the
//! store, then every actor that writes (maintenance windows, lifecycle,
//! dead-man's switch, registry, evaluator rebuilt from the stored states,
//! ingest, notifier and its outbox workers, retention, reminders), the
//! reload task, and the services behind the gates (agent link, client
//! API, HTTP app).
//! A standby starts none of them, so it writes nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use picket_proto::agent::v1::agent_link_server::AgentLinkServer;
use picket_proto::v1::picket_server::PicketServer;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::gate::{Gate, HttpGate};
use crate::agents::{self, AgentsHandle, LivenessHandle, StoreRequests};
use crate::config::Config;
use crate::config::settings::Settings;
use crate::evaluator::{self, EvaluatorHandle};
use crate::ingest::IngestHandle;
use crate::lifecycle::LifecycleHandle;
use crate::maintenance::MaintenanceHandle;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::time::Clock;
use crate::{RunError, api, auth_limit, http, link, notifier, reload, retention, tls};

/// The always-on parts the leader-only ones use, and the gates they open.
pub(crate) struct Parts {
    pub config: Config,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub reloads: reload::Source,
    pub server_tls: Option<Arc<tls::ServerTls>>,
    pub http_addr: SocketAddr,
    pub grpc_ready: Arc<AtomicBool>,
    /// Told of the registry once it runs (the watchdog asks it).
    pub health: crate::health::Health,
    pub link: Gate<AgentLinkServer<link::AgentLinkService>>,
    pub api: Gate<PicketServer<api::PicketApi>>,
    pub http: HttpGate,
}

/// Starts the leader-only actors and opens the gates.
pub(crate) async fn start(
    p: Parts,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), RunError> {
    let started = std::time::Instant::now();
    let settings = Settings::from(&p.config);
    let (store, metrics, clock) = (p.store, p.metrics, p.clock);
    store.sync_config(&settings.catalog).await?;
    // From now on a day's daily rollups are folded from its hours once it
    // ends, not merged on every result (`store/rollups/fold.rs`).
    store.start_folding(clock.now_ms()).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "start-up: catalog stored");
    let initial: crate::domain::ServiceMap<_> = store
        .service_states()
        .await?
        .into_iter()
        .map(|(id, state, open)| (id, (state, open)))
        .collect();
    metrics.start(&store, &p.config, &initial).await?;
    let degraded = (store.degraded_services().await?.into_iter())
        .map(|(id, d)| (id, d.agents))
        .collect();
    tracing::debug!(elapsed = ?started.elapsed(), "start-up: states read, metrics seeded");
    let (reload, reload_calls) = reload::channel();
    let (maintenance, maintenance_set) = MaintenanceHandle::spawn(
        store.clone(),
        settings.maintenance,
        clock.clone(),
        cancel.clone(),
        tasks,
    )
    .await?;
    let heartbeats = crate::heartbeats::HeartbeatsHandle::spawn(
        store.clone(),
        &settings.heartbeats,
        metrics.clone(),
        clock.clone(),
        maintenance_set.clone(),
        cancel.clone(),
        tasks,
    )
    .await?;
    let checkins = Arc::new(arc_swap::ArcSwap::from_pointee(settings.heartbeats.clone()));
    let (lifecycle, lifecycle_resumed) = LifecycleHandle::spawn(
        store.clone(),
        settings.lifecycle,
        metrics.clone(),
        clock.clone(),
        crate::lifecycle::ResumeFrom {
            maintenance: maintenance_set.clone(),
            states: &initial,
        },
        cancel.clone(),
        tasks,
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
        tasks,
    );
    let agents = AgentsHandle::spawn(
        store.clone(),
        settings.registry,
        metrics.clone(),
        maintenance_set.clone(),
        liveness.clone(),
        cancel.clone(),
        tasks,
    );
    let (mute, muted) = crate::mute::MuteHandle::spawn(
        store.clone(),
        clock.clone(),
        agents.clone(),
        cancel.clone(),
        tasks,
    )
    .await?;
    let evaluator = EvaluatorHandle::spawn(
        settings.evaluator,
        evaluator::Start::new(initial, &clock).with_degraded(degraded),
        agents.directory(),
        maintenance_set,
        muted,
        lifecycle,
        metrics.clone(),
        cancel.clone(),
        tasks,
    );
    let ingest = IngestHandle::spawn(
        store.clone(),
        metrics.clone(),
        evaluator.clone(),
        cancel.clone(),
        tasks,
    );
    let notifier = notifier::spawn(
        store.clone(),
        settings.notifier,
        metrics.clone(),
        clock.clone(),
        cancel.clone(),
        tasks,
    )?;
    let retention = retention::RetentionHandle::spawn(
        store.clone(),
        settings.retention,
        metrics.clone(),
        clock.clone(),
        cancel.clone(),
        tasks,
    );
    let reminders = crate::reminders::RemindersHandle::spawn(
        store.clone(),
        settings.reminders,
        metrics.clone(),
        clock.clone(),
        cancel.clone(),
        tasks,
    );
    let webhooks = notifier.receivers();
    tracing::debug!(elapsed = ?started.elapsed(), "start-up: actors spawned");
    let api_settings = Arc::new(arc_swap::ArcSwap::from_pointee(settings.api));
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
        reminders,
        heartbeats: heartbeats.clone(),
        checkins: checkins.clone(),
    };
    let reloader = reload::Reloader {
        path: p.reloads.path,
        running: p.config,
        http_addr: p.http_addr,
        tls: p.server_tls,
        live,
        metrics: metrics.clone(),
        clock: clock.clone(),
    };
    reload::spawn(
        reloader,
        p.reloads.requests,
        reload_calls,
        cancel.clone(),
        tasks,
    );
    let limiter = auth_limit::AuthLimiter::new(metrics.clone());
    let service = link::AgentLinkService::new(
        agents.clone(),
        ingest,
        limiter.clone(),
        clock.clone(),
        cancel.clone(),
        tasks.clone(),
        metrics.clone(),
    );
    // Ready (the gates open) once the lifecycle has resumed too.
    lifecycle_resumed.wait().await;
    p.link.open(link::server(service));
    p.health.leading(&agents);
    let view = agents::AgentsView::Leader(agents.clone());
    let checkin_routes = crate::heartbeats::http::router(crate::heartbeats::http::Checkins {
        heartbeats: heartbeats.clone(),
        store: store.clone(),
        limiter: limiter.clone(),
        metrics: metrics.clone(),
        clock,
        settings: checkins,
    });
    p.http.open(
        http::router(
            store.clone(),
            p.grpc_ready,
            metrics,
            view.clone(),
            api_settings.clone(),
        )
        .merge(checkin_routes),
    );
    p.api.open(api::server(api::PicketApi {
        store,
        settings: api_settings,
        agents: view,
        webhooks,
        limiter,
        cancel: cancel.clone(),
        tasks: tasks.clone(),
        mode: api::Mode::Leader(api::Leading {
            agents,
            maintenance,
            evaluator,
            reload,
            mute,
            heartbeats,
        }),
    }));
    tracing::info!(elapsed = ?started.elapsed(), "leader-only parts started");
    crate::memory::release_free_memory().await;
    Ok(())
}
