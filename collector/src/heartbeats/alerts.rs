//! What the heartbeats actor does when a deadline passes: open the
//! `[NO CHECK-IN]` request, or hold it while the heartbeat's equipment is
//! in maintenance and open it when the window ends; and the
//! `picket_heartbeats{state}` gauge.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::actor::Actor;
use crate::backoff::Backoff;
use crate::domain::{HeartbeatId, HeartbeatState, texts};
use crate::store::HeartbeatRow;

/// Missed heartbeats whose write the store refused (an error, a timeout
/// waiting for the connection): each is tried again, with a growing delay
/// (100 ms to 10 s), until stored, pinged or no longer watched. Losing
/// one would lose the alert.
#[derive(Default)]
pub(super) struct Unrecorded {
    ids: HashSet<HeartbeatId>,
    at: Option<Instant>,
    backoff: Backoff,
}

impl Unrecorded {
    fn add(&mut self, id: &HeartbeatId) {
        self.ids.insert(id.clone());
        if self.at.is_none() {
            self.at = Some(Instant::now() + self.backoff.delay());
        }
    }

    /// Forgets `id`; whether it was waiting.
    pub(super) fn remove(&mut self, id: &HeartbeatId) -> bool {
        self.ids.remove(id)
    }

    /// The ids to try again now; none is due until one is added again.
    fn take(&mut self) -> HashSet<HeartbeatId> {
        self.at = None;
        std::mem::take(&mut self.ids)
    }

    /// After a retry: the delay starts over once every one was stored.
    fn tried(&mut self) {
        if self.ids.is_empty() {
            self.backoff.reset();
        }
    }

    /// Resolves when a retry is due; pending while none waits.
    pub(super) async fn due(&self) {
        match self.at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }
}

impl Actor {
    /// A deadline passed: open the request, or hold it while the
    /// heartbeat's equipment is in maintenance.
    pub(super) async fn missed(&mut self, id: &HeartbeatId) {
        let in_maintenance =
            (self.equipment.get(id)).is_some_and(|e| self.maintenance.borrow().contains_key(e));
        if in_maintenance {
            info!(heartbeat = %id, "heartbeat silent during its equipment's maintenance: held");
            self.held.insert(id.clone());
            return;
        }
        let row = match self.store.get_heartbeat(id).await {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                warn!(heartbeat = %id, error = %e, "cannot load a silent heartbeat; retrying");
                return self.unrecorded.add(id);
            }
        };
        self.open(&row).await;
    }

    /// Tries the unrecorded ones again: those still silent (no ping since,
    /// still watched) go through [`Actor::missed`] once more.
    pub(super) async fn retry_unrecorded(&mut self) {
        for id in self.unrecorded.take() {
            if self.deadlines.is_late(&id) {
                self.missed(&id).await;
            }
        }
        self.unrecorded.tried();
    }

    async fn open(&mut self, row: &HeartbeatRow) {
        let since_ms = row.watch_from_ms.unwrap_or(row.created_ms);
        let request = texts::checkin_request(&texts::Silent {
            id: &row.id,
            name: &row.name,
            period: Duration::from_millis(row.period_ms.max(0) as u64),
            grace: Duration::from_millis(row.grace_ms.max(0) as u64),
            last_ping_ms: row.last_ping_ms,
            since_ms,
            equipment: row.equipment_id.as_ref(),
            priority: &row.priority,
        });
        match self.store.heartbeat_missed(row, &request).await {
            Ok(opened) => {
                if opened.is_some() {
                    self.metrics.request_opened("checkin");
                }
                warn!(heartbeat = %row.id, name = %row.name, request = ?opened, at_ms = self.clock.now_ms(), "no check-in");
            }
            Err(e) => {
                warn!(heartbeat = %row.id, error = %e, "cannot record a missed check-in; retrying");
                self.unrecorded.add(&row.id);
            }
        }
    }

    /// The maintenance windows changed: open the held requests of the
    /// heartbeats whose equipment is out of maintenance (a store error
    /// leaves one to [`Unrecorded`]).
    pub(super) async fn release_held(&mut self) {
        let running = self.maintenance.borrow_and_update().clone();
        let held: Vec<HeartbeatId> = self.held.iter().cloned().collect();
        for id in held {
            let row = match self.store.get_heartbeat(&id).await {
                Ok(Some(row)) => row,
                Ok(None) => continue,
                Err(e) => {
                    warn!(heartbeat = %id, error = %e, "cannot load a held heartbeat; retrying");
                    self.held.remove(&id);
                    self.unrecorded.add(&id);
                    continue;
                }
            };
            if row
                .equipment_id
                .as_ref()
                .is_none_or(|e| !running.contains_key(e))
            {
                self.held.remove(&id);
                self.open(&row).await;
            }
        }
    }

    pub(super) async fn count(&self) {
        match self.store.heartbeat_counts().await {
            Ok(counts) => {
                for state in HeartbeatState::ALL {
                    let n = counts.iter().find(|(s, _)| s == state).map_or(0, |c| c.1);
                    self.metrics.heartbeats.set(&[state.as_str()], n);
                }
            }
            Err(e) => warn!(error = %e, "cannot count heartbeats"),
        }
    }
}
