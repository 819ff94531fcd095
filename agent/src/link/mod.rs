//! `LinkActor`: owns the gRPC stream to the collector and the [`Outbox`] of
//! unacknowledged results.
//!
//! It connects, says Hello, waits for Welcome, then multiplexes: results from
//! probe tasks go into the outbox and out in batches; assignment parts are
//! assembled ([`assembly`]) and each completed set goes to the scheduler,
//! as do Recheck orders; Acks trim the outbox; heartbeats go
//! out on a timer. When the session fails it keeps buffering results while it
//! searches the collectors ([`search`]: each in order, a standby's "leader is
//! URL" first; exponential backoff with full jitter between rounds, reset
//! after a session that got past Welcome) and replays every unacknowledged
//! result to the one that welcomes it.
//! A fatal refusal ends [`LinkActor::run`] with an error; nothing else does
//! except shutdown. The stream carries domain messages ([`Uplink`] up,
//! [`Downlink`] down); [`convert`] opens it and does the wire.

pub mod assembly;
mod backoff;
pub mod convert;
pub mod error;
mod search;
mod settings;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, error, info, warn};

use self::assembly::Assembly;
use self::backoff::Backoff;
use self::search::Search;
pub use error::LinkError;
pub use settings::LinkSettings;

use picket_proto::contract::collectors::is_https;

use crate::domain::{Downlink, Hello, ProbeReport, Uplink, Welcome};
use crate::heartbeat::HostSampler;
use crate::identity::{Identity, IdentityStore};
use crate::outbox::Outbox;
use crate::scheduler::SchedulerHandle;

/// Most results in one ResultBatch.
pub const MAX_BATCH: usize = 500;

enum SessionEnd {
    Shutdown,
    Failed { error: LinkError, welcomed: bool },
}

/// An open stream after Welcome.
struct Session {
    /// Messages to the collector (the request stream's sender).
    tx: mpsc::Sender<Uplink>,
    /// Messages from the collector.
    inbound: convert::Inbound,
    welcome: Welcome,
}

/// The link actor. Build it with [`LinkActor::new`] and drive it with
/// [`LinkActor::run`].
pub struct LinkActor {
    settings: LinkSettings,
    identity: Identity,
    identity_store: IdentityStore,
    outbox: Outbox,
    /// Reports from probe tasks.
    results: mpsc::Receiver<ProbeReport>,
    /// Where assignments and recheck orders go.
    scheduler: SchedulerHandle,
    sampler: HostSampler,
    /// The check set from the collector's assignment updates.
    assembly: Assembly,
}

impl LinkActor {
    /// A link actor for `identity`, draining `results` into `outbox`.
    pub fn new(
        settings: LinkSettings,
        identity: Identity,
        identity_store: IdentityStore,
        outbox: Outbox,
        results: mpsc::Receiver<ProbeReport>,
        scheduler: SchedulerHandle,
    ) -> LinkActor {
        LinkActor {
            settings,
            identity,
            identity_store,
            outbox,
            results,
            scheduler,
            sampler: HostSampler::new(),
            assembly: Assembly::default(),
        }
    }

    /// Runs until `shutdown` is cancelled (`Ok`) or the collector refuses
    /// the agent for good (`Err`, always a fatal [`LinkError`]).
    ///
    /// Each round tries the collectors in order ([`Search`]), following a
    /// standby's leader hint; the backoff delay comes between rounds, and a
    /// session that got past Welcome ends its round (and resets the
    /// backoff). Results are buffered throughout.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), LinkError> {
        let mut backoff = Backoff::new(self.settings.backoff_initial, self.settings.backoff_max);
        let mut search = Search::new(self.settings.collectors.clone());
        // The last failure logged per collector: repeats go to debug.
        let mut last_failure: HashMap<String, String> = HashMap::new();
        loop {
            search.start_round();
            while let Some(url) = search.next() {
                let (error, welcomed) = match self.session(&url, &shutdown).await {
                    SessionEnd::Shutdown => return Ok(()),
                    SessionEnd::Failed { error, welcomed } => (error, welcomed),
                };
                self.settings.status.attempted(welcomed);
                if error.is_fatal() {
                    error!(collector = %url, %error, "collector refused this agent");
                    return Err(error);
                }
                if welcomed {
                    search.connected(&url);
                    backoff.reset();
                    last_failure.clear();
                }
                let message = error.to_string();
                let repeated = !welcomed && last_failure.get(&url) == Some(&message);
                match &error {
                    _ if repeated => {
                        debug!(collector = %url, %error, "still cannot connect to collector")
                    }
                    LinkError::AlreadyConnected(_) => {
                        warn!(collector = %url, %error, "collector refused a duplicate connection")
                    }
                    _ if welcomed => warn!(collector = %url, %error, "link to collector lost"),
                    _ => warn!(collector = %url, %error, "cannot connect to collector"),
                }
                last_failure.insert(url.clone(), message);
                if welcomed {
                    break;
                }
                if let Some(leader) = error.leader_hint() {
                    if is_https(&leader) && self.settings.tls.is_none() {
                        warn!(collector = %url, %leader, "cannot follow the leader hint: TLS is not set up (no https:// --collector)");
                    } else if search.follow(leader.clone()) {
                        info!(collector = %url, %leader, "collector is a standby; trying the leader");
                    }
                }
            }
            let delay = backoff.next_delay();
            debug!(retry_in = ?delay, "searching the collectors again after a pause");
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = &mut sleep => break,
                    Some(report) = self.results.recv() => self.accept(report),
                }
            }
        }
    }

    fn accept(&mut self, report: ProbeReport) {
        let before = self.outbox.dropped();
        self.outbox.push(report);
        let dropped = self.outbox.dropped();
        // Log the 1st, 2nd, 4th, 8th… drop: visible, but never a flood.
        if dropped > before && dropped.is_power_of_two() {
            warn!(
                dropped,
                buffered = self.outbox.len(),
                "result buffer full: dropping the oldest results"
            );
        }
    }

    async fn session(&mut self, url: &str, shutdown: &CancellationToken) -> SessionEnd {
        let hello = Uplink::Hello(Hello {
            agent_id: self.identity.agent_id.clone(),
            credential: self.identity.credential.clone(),
            enrollment_token: self.settings.enrollment_token.clone(),
            name: self.settings.name.clone(),
            region: self.settings.region.clone(),
            labels: self.settings.labels.clone(),
            assignment_digest: self.assembly.digest(),
        });
        debug!(?hello, "opening a session");
        let tls = self.settings.tls.clone().filter(|_| is_https(url));
        let open = open_session(url.to_owned(), tls, hello, self.settings.welcome_timeout);
        tokio::pin!(open);
        let session = loop {
            tokio::select! {
                _ = shutdown.cancelled() => return SessionEnd::Shutdown,
                opened = &mut open => match opened {
                    Ok(session) => break session,
                    Err(error) => return SessionEnd::Failed { error, welcomed: false },
                },
                Some(report) = self.results.recv() => self.accept(report),
            }
        };
        match self.serve(url, session, shutdown).await {
            Ok(()) => SessionEnd::Shutdown,
            Err(error) => SessionEnd::Failed {
                error,
                welcomed: true,
            },
        }
    }

    fn welcomed(&mut self, url: &str, welcome: &Welcome) {
        self.settings.status.attempted(true);
        if let Some(credential) = &welcome.credential
            && *credential != self.identity.credential
        {
            self.identity.credential = credential.clone();
            match self.identity_store.save(&self.identity) {
                Ok(()) => {
                    info!(path = %self.identity_store.path().display(), "stored the credential issued by the collector")
                }
                Err(e) => {
                    error!(error = %e, "failed to store the issued credential; keeping it in memory")
                }
            }
        }
        if welcome.agent_id != self.identity.agent_id {
            warn!(ours = %self.identity.agent_id, theirs = %welcome.agent_id, "collector welcomed a different agent id");
        }
        self.outbox.start_session(welcome.last_committed_seq);
        self.assembly.start_session();
        info!(
            collector = %url,
            agent_id = %self.identity.agent_id,
            state = %welcome.state,
            buffered = self.outbox.len(),
            "connected to collector"
        );
    }

    /// Serves one welcomed session until it fails (`Err`) or shutdown.
    async fn serve(
        &mut self,
        url: &str,
        session: Session,
        shutdown: &CancellationToken,
    ) -> Result<(), LinkError> {
        let Session {
            tx,
            mut inbound,
            welcome,
        } = session;
        self.welcomed(url, &welcome);
        let mut heartbeat = tokio::time::interval(welcome.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                msg = inbound.next() => match msg {
                    Some(Ok(Ok(msg))) => {
                        if !self.handle(msg).await? {
                            return Ok(());
                        }
                    }
                    Some(Ok(Err(e))) if e.field == convert::ASSIGNMENT_KIND => {
                        return Err(LinkError::Protocol(e.to_string()));
                    }
                    Some(Ok(Err(e))) => {
                        warn!(error = %e, "ignoring an unusable message from the collector");
                    }
                    Some(Err(status)) => return Err(LinkError::from_status(status)),
                    None => return Err(LinkError::Closed),
                },
                _ = heartbeat.tick() => {
                    let msg = self.heartbeat();
                    if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(msg) {
                        return Err(LinkError::Closed);
                    }
                }
                permit = tx.reserve(), if self.outbox.has_unsent() => match permit {
                    Ok(permit) => {
                        let batch = self.outbox.next_batch(MAX_BATCH);
                        debug!(results = batch.len(), "sending results");
                        permit.send(Uplink::Results(batch));
                    }
                    Err(_) => return Err(LinkError::Closed),
                },
                Some(report) = self.results.recv() => self.accept(report),
            }
        }
    }

    /// Handles one collector message; `Ok(false)` when the agent is
    /// shutting down (the scheduler is gone), an error when an assignment
    /// part is out of order (the session ends).
    async fn handle(&mut self, msg: Downlink) -> Result<bool, LinkError> {
        Ok(match msg {
            Downlink::Welcome(_) => {
                warn!("ignoring a second welcome from the collector");
                true
            }
            Downlink::Assignment(part) => {
                for reason in &part.rejected {
                    warn!(%reason, "check refused");
                }
                let applied = self
                    .assembly
                    .take(part)
                    .map_err(|e| LinkError::Protocol(e.to_string()))?;
                match applied {
                    Some(checks) => {
                        debug!(checks = checks.len(), "assignment complete");
                        self.scheduler.assign_shared(checks).await.is_ok()
                    }
                    None => true,
                }
            }
            Downlink::Recheck { check_id, round_id } => {
                debug!(%check_id, round_id, "recheck ordered");
                self.scheduler.recheck(check_id, round_id).await.is_ok()
            }
            Downlink::Ack { seq } => {
                self.outbox.ack(seq);
                true
            }
        })
    }

    fn heartbeat(&mut self) -> Uplink {
        let mut stats = self.sampler.sample();
        stats.agent_version = env!("CARGO_PKG_VERSION").to_owned();
        stats.checks_assigned = self.scheduler.stats().assigned();
        stats.checks_in_flight = self.scheduler.stats().in_flight();
        stats.results_buffered = self.outbox.len() as u64;
        stats.results_dropped = self.outbox.dropped();
        Uplink::Heartbeat {
            time: SystemTime::now(),
            stats,
        }
    }
}

/// Connects, sends Hello, and waits for Welcome.
async fn open_session(
    collector: String,
    tls: Option<picket_tls::Connector>,
    hello: Uplink,
    welcome_timeout: Duration,
) -> Result<Session, LinkError> {
    let endpoint = Endpoint::from_shared(collector)
        .map_err(LinkError::unreachable)?
        .connect_timeout(welcome_timeout)
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    let channel: Channel = match tls {
        Some(connector) => endpoint.connect_with_connector(connector).await,
        None => endpoint.connect().await,
    }
    .map_err(LinkError::unreachable)?;
    let (tx, rx) = mpsc::channel(8);
    // The receiver is alive, so this cannot fail; Hello goes out first.
    tx.send(hello).await.map_err(|_| LinkError::Closed)?;
    let welcome = async {
        let mut inbound = convert::connect(channel, rx)
            .await
            .map_err(LinkError::from_status)?;
        let first = inbound
            .next()
            .await
            .ok_or(LinkError::Closed)?
            .map_err(LinkError::from_status)?;
        match first {
            Ok(Downlink::Welcome(welcome)) => Ok((inbound, welcome)),
            Ok(other) => Err(LinkError::Protocol(format!(
                "expected welcome first, got {other:?}"
            ))),
            Err(e) => Err(LinkError::Protocol(e.to_string())),
        }
    };
    let (inbound, welcome) = tokio::time::timeout(welcome_timeout, welcome)
        .await
        .map_err(|_| LinkError::WelcomeTimeout(welcome_timeout))??;
    Ok(Session {
        tx,
        inbound,
        welcome,
    })
}
