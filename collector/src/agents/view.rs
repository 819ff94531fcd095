//! What the API and the status pages ask about the agents: which are live
//! and how many checks each runs. A leader asks its registry (connected
//! and not declared dead; the assignment in memory). A standby runs no
//! registry, so it answers from the store: an agent is live when the
//! leader recorded a heartbeat from it within the dead-man's window
//! (`heartbeat_interval` × `missed_heartbeats`), and runs no checks as far
//! as the standby knows (the assignment lives in the leader's memory).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::AgentsHandle;
use crate::domain::AgentId;
use crate::store::{Store, StoreError};

/// The agents as a leader or a standby sees them.
#[derive(Clone)]
pub enum AgentsView {
    Leader(AgentsHandle),
    /// Live means heard from within `dead_after`, by the stored heartbeats.
    Standby {
        store: Store,
        dead_after: Duration,
    },
}

impl AgentsView {
    /// The agents live now.
    pub async fn live(&self) -> Result<HashSet<AgentId>, StoreError> {
        match self {
            AgentsView::Leader(agents) => Ok(agents.live().await),
            AgentsView::Standby { store, dead_after } => {
                let window = i64::try_from(dead_after.as_millis()).unwrap_or(i64::MAX);
                let since = store.clock().now_ms().saturating_sub(window);
                Ok(store
                    .list_agents()
                    .await?
                    .into_iter()
                    .filter(|a| a.last_seen_ms.is_some_and(|t| t >= since))
                    .map(|a| a.id)
                    .collect())
            }
        }
    }

    /// How many services each agent checks (none known on a standby).
    pub fn checks(&self) -> HashMap<AgentId, usize> {
        let mut checks: HashMap<AgentId, usize> = HashMap::new();
        if let AgentsView::Leader(agents) = self {
            for ids in agents.directory().borrow().by_service.values() {
                for a in ids {
                    *checks.entry(a.clone()).or_default() += 1;
                }
            }
        }
        checks
    }
}
