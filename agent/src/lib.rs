//! Picket's agent: probes the HTTP(S) checks its collector assigns and
//! streams every result back over one gRPC stream.
//!
//! # Layout
//!
//! Data flows one way: `scheduler → probe → link (outbox) ⇒ collector`.
//! Control comes back down the same stream: the link actor hands
//! assignments and recheck orders to the scheduler and trims its outbox on
//! acks.
//!
//! - [`config`]: command line (`Cli`) and its validated form (`AgentConfig`).
//! - [`identity`]: the state file holding the agent id and credential.
//! - [`domain`]: checks, probe reports, error kinds, host stats; plain data.
//! - [`link`]: the link actor (stream, reconnects, outbox) and proto edges.
//! - [`scheduler`]: the scheduler actor (phase slots in one heap, rechecks).
//! - [`probe`]: one bounded, classified HTTP probe.
//! - [`outbox`]: the bounded buffer of unacknowledged results.
//! - [`heartbeat`]: host statistics from `/proc`.
//! - [`status`]: readiness and health for systemd (`main.rs`).

pub mod config;
pub mod domain;
pub mod heartbeat;
pub mod identity;
pub mod link;
pub mod outbox;
pub mod probe;
pub mod scheduler;
pub mod status;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span};

use crate::config::AgentConfig;
use crate::identity::{IdentityError, IdentityStore};
use crate::link::{LinkActor, LinkError, LinkSettings};
use crate::outbox::Outbox;
use crate::probe::{ClientError, ClientOptions, Clients, Prober};
use crate::scheduler::SchedulerHandle;

/// Capacity of the channel from probe tasks to the link actor.
const RESULTS_CHANNEL: usize = 1024;

/// The tokio runtime the agent runs on (`main.rs`; benches use it too, so
/// they measure the agent's own threading).
pub fn runtime() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    builder
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The collector refused the agent for good (exit 3).
    #[error(transparent)]
    Refused(LinkError),
    /// The identity file could not be loaded or created.
    #[error("failed to load identity: {0}")]
    Identity(#[from] IdentityError),
    /// The probe clients could not be set up.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// TLS for the link could not be set up.
    #[error("failed to set up TLS for the link: {0}")]
    LinkTls(#[from] picket_tls::client::ClientTlsError),
}

/// Runs the agent until `shutdown` completes (`Ok`) or the collector refuses
/// it for good.
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    run_with_status(config, status::Status::default(), shutdown).await
}

/// [`run`], reporting connection attempts and actor health to `status`.
pub async fn run_with_status(
    config: AgentConfig,
    status: status::Status,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let store = IdentityStore::new(&config.state_dir);
    let identity = store.load_or_create()?;
    info!(
        agent_id = %identity.agent_id,
        name = %config.name,
        region = %config.region,
        enrolled = !identity.credential.is_empty(),
        "picket-agent starting"
    );
    let clients = Clients::new(ClientOptions {
        source_address: config.source_address,
        extra_roots: config.extra_roots.clone(),
    })?;
    let token = CancellationToken::new();
    let (results_tx, results_rx) = mpsc::channel(RESULTS_CHANNEL);
    let scheduler = SchedulerHandle::spawn(
        Arc::new(Prober::new(clients)),
        results_tx,
        identity.agent_id.clone(),
        token.child_token(),
    );
    let mut settings = LinkSettings::new(
        config.collectors.clone(),
        config.enrollment_token.clone(),
        config.name.clone(),
        config.region.clone(),
        config.labels.clone(),
    );
    status.watch_scheduler(&scheduler);
    settings.status = status;
    if config.collectors.iter().any(|url| config::is_https(url)) {
        let tls = picket_tls::ClientTls {
            extra_roots: config.extra_roots.clone(),
            identity: config.client_identity.clone(),
        };
        settings.tls = Some(tls.connector()?);
    }
    let span = info_span!("link", agent_id = %identity.agent_id);
    let link = LinkActor::new(
        settings,
        identity,
        store,
        Outbox::new(config.buffer_size),
        results_rx,
        scheduler,
    );
    let result = tokio::select! {
        r = link.run(token.clone()).instrument(span) => r.map_err(RunError::Refused),
        _ = shutdown => {
            info!("shutting down");
            Ok(())
        }
    };
    token.cancel();
    result
}
