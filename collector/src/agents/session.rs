//! A live session as the registry keeps it: the agent's row, how to reach
//! it, and the check set last pushed to it.
//!
//! Pushing is non-blocking: a session whose downlink is full is cancelled
//! (the link drops it) and gets its full set again on reconnect.

use tokio_util::sync::CancellationToken;
use tracing::warn;

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
    assigned: Vec<CheckSpec>,
    /// Whether any assignment was pushed yet (an empty one counts: it stops
    /// checks the agent ran in a previous session).
    sent: bool,
}

impl Session {
    pub fn new(id: u64, row: AgentRow, tx: DownlinkTx, cancel: CancellationToken) -> Self {
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
            sent: false,
        }
    }

    /// Pushes the agent its full check set unless it already has it.
    pub fn push(&mut self, checks: Vec<CheckSpec>) {
        if self.sent && checks == self.assigned {
            return;
        }
        match self.link.tx.try_send(Downlink::Assignment(checks.clone())) {
            Ok(()) => {
                self.assigned = checks;
                self.sent = true;
            }
            Err(_) => {
                warn!(agent_id = %self.row.id, "agent downlink full: dropping the session, it gets its full assignment on reconnect");
                self.cancel.cancel();
            }
        }
    }
}
