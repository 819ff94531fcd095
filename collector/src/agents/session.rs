//! A live session as the registry keeps it: the agent's row, how to reach
//! it, and the check set last pushed to it with its generation.
//!
//! The session's first update is the full set in parts, or one
//! "unchanged" part when the agent's Hello digest equals the set's; every
//! later one is a delta against the set last pushed ([`chunks`]).
//! Pushing is non-blocking: a session whose downlink is full is cancelled
//! (the link drops it) and never pushed to again, so the agent, which
//! applies a delta only on top of the generation before it, can never
//! apply one past a lost part; it reconnects and gets a full set (its
//! digest no longer matches a set it did not complete).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::chunks;
use super::directory::{DownlinkTx, LinkHandle};
use crate::domain::{CheckSpec, Downlink};
use crate::store::AgentRow;

pub(super) struct Session {
    /// Identifies this session in `Gone` messages.
    pub id: u64,
    pub row: AgentRow,
    pub link: LinkHandle,
    /// Cancelled to drop the session (e.g. its downlink overflowed).
    cancel: CancellationToken,
    /// The check set last pushed to it.
    assigned: Vec<Arc<CheckSpec>>,
    /// The generation of the last update pushed; 0 before the first (an
    /// empty set counts: it stops checks the agent ran in a previous
    /// session).
    generation: u64,
    /// The digest the agent's Hello carried.
    hello_digest: Option<u64>,
    /// A push failed: the session is being dropped; nothing more goes out.
    broken: bool,
}

impl Session {
    pub fn new(
        id: u64,
        row: AgentRow,
        tx: DownlinkTx,
        cancel: CancellationToken,
        hello_digest: Option<u64>,
    ) -> Self {
        let link = LinkHandle {
            id: row.id.clone(),
            name: row.name.clone(),
            region: row.region.clone(),
            tx,
        };
        Session {
            id,
            row,
            link,
            cancel,
            assigned: Vec::new(),
            generation: 0,
            hello_digest,
            broken: false,
        }
    }

    /// Pushes the agent what changed since the last push (the full set, or
    /// "unchanged", the first time).
    pub fn push(&mut self, checks: Vec<Arc<CheckSpec>>) {
        if self.broken {
            return;
        }
        let generation = self.generation + 1;
        let parts = if self.generation == 0 {
            let digest = chunks::digest(&checks);
            if self.hello_digest == Some(digest) {
                vec![chunks::unchanged(generation, &checks, digest)]
            } else {
                chunks::full(generation, &checks, digest)
            }
        } else {
            let (changed, removed) = chunks::diff(&self.assigned, &checks);
            if changed.is_empty() && removed.is_empty() {
                return;
            }
            chunks::delta(generation, changed, removed, chunks::digest(&checks))
        };
        for part in parts {
            if self.link.tx.try_send(Downlink::Assignment(part)).is_err() {
                warn!(agent_id = %self.row.id, "agent downlink full: dropping the session, it gets its full assignment on reconnect");
                self.broken = true;
                self.cancel.cancel();
                return;
            }
        }
        self.assigned = checks;
        self.generation = generation;
    }
}
