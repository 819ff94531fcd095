//! Leadership: which of several collectors on one database leads.
//!
//! A lease row in the store (`store::Lease`), not an advisory lock: a
//! paused (SIGSTOPped) leader keeps its connection, and would keep a lock,
//! forever. [`campaign`] takes the lease when it has ended (epoch + 1) and
//! fences the store at that epoch, so every write transaction checks it;
//! while another collector leads it publishes [`Role::Standby`] with the
//! leader's `advertise_url`, which the [`gate`]s give callers. Once
//! leading, [`spawn_renewals`] renews the lease every third of it; when a
//! renewal finds another holder, or none succeeded before the lease ended,
//! the store is deposed (every write refused) and `lost` fires: the
//! collector stops with [`crate::RunError::LostLeadership`] and its
//! supervisor restarts it, as a standby. Meanwhile a standby serves the
//! read calls and the status pages from the store ([`standby`]).

pub mod gate;
pub(crate) mod standby;
pub(crate) mod start;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::metrics::Metrics;
use crate::store::Store;
use crate::time::Clock;

/// What this collector is now, for the gates and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Another collector leads (its `advertise_url`; empty while unknown).
    Standby {
        leader: String,
    },
    Leader,
}

/// Why this collector does not serve, now, what only a leader serves.
pub fn not_leading(role: &RoleCell) -> String {
    match &*role.borrow() {
        Role::Leader => "starting: this collector is taking the leadership".to_owned(),
        Role::Standby { leader } => picket_proto::contract::collectors::standby_message(leader),
    }
}

/// Shared view of the [`Role`]; cheap to clone.
pub type RoleCell = Arc<watch::Sender<Role>>;

/// A new cell, standing by for an unknown leader.
pub fn role_cell() -> RoleCell {
    Arc::new(
        watch::channel(Role::Standby {
            leader: String::new(),
        })
        .0,
    )
}

/// Who this collector is and how long its lease runs.
#[derive(Clone)]
pub struct Candidate {
    pub store: Store,
    /// This process's instance id (the lease's holder).
    pub id: String,
    pub advertise_url: String,
    pub lease: Duration,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub role: RoleCell,
}

impl Candidate {
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A new instance id: random per process, so a restarted collector
/// campaigns anew.
pub fn instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Tries for the lease every third of it until this collector holds it
/// (the epoch, and the instant before the winning attempt, from which the
/// lease runs) or `cancel` fires (`None`).
pub async fn campaign(c: &Candidate, cancel: &CancellationToken) -> Option<(i64, Instant)> {
    let mut announced = false;
    // SQLite serves one collector: a restart after a crash need not wait
    // for the dead one's lease to end.
    let mut regardless = c.store.backend() == crate::store::Backend::Sqlite;
    loop {
        let attempt = Instant::now();
        let now = c.clock.now_ms();
        let taken = c
            .store
            .campaign(&c.id, &c.advertise_url, now, c.lease_ms(), regardless)
            .await;
        regardless = false;
        match taken {
            Ok(Some(epoch)) => {
                c.store.fence(epoch);
                c.role.send_replace(Role::Leader);
                c.metrics.leader.set(1);
                c.metrics.leader_changes.inc();
                info!(epoch, id = %c.id, url = %c.advertise_url, "leadership taken: this collector leads");
                return Some((epoch, attempt));
            }
            Ok(None) => match c.store.lease().await {
                Ok(lease) => {
                    if !announced {
                        info!(leader = %lease.advertise_url, epoch = lease.epoch, "standing by: another collector leads");
                        announced = true;
                    }
                    c.role.send_if_modified(|r| {
                        let new = Role::Standby {
                            leader: lease.advertise_url.clone(),
                        };
                        let changed = *r != new;
                        *r = new;
                        changed
                    });
                }
                Err(e) => warn!(error = %e, "reading the leader lease failed"),
            },
            Err(e) => warn!(error = %e, "campaigning for the leader lease failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(c.lease / 3) => {}
            () = cancel.cancelled() => return None,
        }
    }
}

/// One renewal at `epoch`; on PostgreSQL it gives up when the lease
/// `ends`: while the server is gone the pool waits for a connection up to
/// its acquire timeout, longer than a lease, and a leader that cannot renew
/// must step down in time. (SQLite is a local file, and the in-process
/// scenarios run it on a paused clock, where a timer could fire while a
/// query runs on its worker thread.)
/// `None` when it gave up.
async fn renew(
    c: &Candidate,
    epoch: i64,
    ends: Instant,
) -> Option<Result<bool, crate::store::StoreError>> {
    let renew = c.store.renew(&c.id, epoch, c.clock.now_ms(), c.lease_ms());
    match c.store.backend() {
        crate::store::Backend::Sqlite => Some(renew.await),
        crate::store::Backend::Postgres => tokio::time::timeout_at(ends, renew).await.ok(),
    }
}

/// Renews the lease at `epoch` every third of it until `cancel` fires;
/// fires `lost` (after deposing the store) when it cannot.
pub fn spawn_renewals(
    c: Candidate,
    (epoch, from): (i64, Instant),
    lost: CancellationToken,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) {
    tasks.spawn(async move {
        let mut ends = from + c.lease;
        let why = loop {
            tokio::select! {
                () = tokio::time::sleep(c.lease / 3) => {}
                () = cancel.cancelled() => return,
            }
            // A late renewal that still finds this epoch is safe: writes
            // are fenced by the epoch, not by time.
            let attempt = Instant::now();
            match renew(&c, epoch, ends).await {
                Some(Ok(true)) => ends = attempt + c.lease,
                Some(Ok(false)) => break "another collector took the lease",
                None => {
                    warn!("renewing the leader lease: no answer from the database");
                    break "the lease ended before it could be renewed";
                }
                Some(Err(e)) if attempt >= ends => {
                    warn!(error = %e, "renewing the leader lease failed");
                    break "the lease ended before it could be renewed";
                }
                Some(Err(e)) => {
                    warn!(error = %e, "renewing the leader lease failed; retrying until it ends")
                }
            }
        };
        c.store.depose();
        c.role.send_replace(Role::Standby {
            leader: String::new(),
        });
        c.metrics.leader.set(0);
        c.metrics.leader_changes.inc();
        error!(
            epoch,
            reason = why,
            "leadership lost: every write is refused and the collector stops"
        );
        lost.cancel();
    });
}
