//! The `[AGENT DOWN]` request as the dead-man's switch writes it: the
//! texts (in [`down_description`] and [`up_note`], nowhere else) and the
//! store calls that open and close it with `agent.down` / `agent.up`.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::deadman::AgentRequests;
use crate::config::AgentsSection;
use crate::domain::AgentId;
use crate::metrics::Metrics;
use crate::store::{AgentRow, Store};
use crate::time::{now_ms, rfc3339};

/// The description of an agent's `[AGENT DOWN]` request.
pub fn down_description(row: &AgentRow, heartbeat_interval: Duration, missed: u32) -> String {
    format!(
        "agent {} ({}) in region {:?} has not been heard from since {} (heartbeat every {}, {} missed)",
        row.name,
        row.id,
        row.region,
        row.last_seen_ms
            .map_or_else(|| "its start".to_owned(), rfc3339),
        crate::config::format_duration(heartbeat_interval),
        missed,
    )
}

/// The note closing an agent's request when it is heard from at `at_ms`.
pub fn up_note(row: &AgentRow, at_ms: i64) -> String {
    format!(
        "closed automatically: agent {} ({}) is back, heard from at {}",
        row.name,
        row.id,
        rfc3339(at_ms)
    )
}

/// [`AgentRequests`] on the store, with the metrics and the log lines.
pub struct StoreRequests {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub heartbeat_interval: Duration,
    pub missed_heartbeats: u32,
}

impl StoreRequests {
    pub fn new(store: Store, metrics: Arc<Metrics>, agents: &AgentsSection) -> Self {
        StoreRequests {
            store,
            metrics,
            heartbeat_interval: agents.heartbeat_interval,
            missed_heartbeats: agents.missed_heartbeats,
        }
    }

    async fn row(&self, agent: &AgentId) -> Option<AgentRow> {
        match self.store.get_agent(agent).await {
            Ok(row) => row,
            Err(e) => {
                warn!(agent_id = %agent, error = %e, "cannot load agent");
                None
            }
        }
    }
}

impl AgentRequests for StoreRequests {
    async fn down(&mut self, agent: &AgentId) {
        let Some(row) = self.row(agent).await else {
            return;
        };
        let description = down_description(&row, self.heartbeat_interval, self.missed_heartbeats);
        match self.store.agent_down(&row, &description).await {
            Ok(request) => {
                self.metrics.agents_down.inc();
                if request.is_some() {
                    self.metrics.request_opened("agent");
                }
                let window = self.heartbeat_interval * self.missed_heartbeats;
                warn!(agent_id = %agent, name = %row.name, ?request, window = ?window, "agent down: dead-man's switch")
            }
            Err(e) => warn!(agent_id = %agent, error = %e, "cannot record agent down"),
        }
    }

    async fn up(&mut self, agent: &AgentId) {
        let Some(row) = self.row(agent).await else {
            return;
        };
        let note = up_note(&row, now_ms());
        match self.store.agent_up(&row, &note).await {
            Ok(request) => info!(agent_id = %agent, name = %row.name, ?request, "agent up"),
            Err(e) => warn!(agent_id = %agent, error = %e, "cannot record agent up"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testing::{config, event_types, hello, store};

    #[test]
    fn the_texts_name_the_agent_and_the_window() {
        let row = AgentRow {
            id: "a1".into(),
            name: "edge-1".into(),
            region: "eu".into(),
            labels: Default::default(),
            state: crate::domain::AgentState::Active,
            credential_hash: None,
            version: None,
            created_ms: 0,
            last_seen_ms: None,
            stats: None,
            last_seq: 0,
        };
        assert_eq!(
            down_description(&row, Duration::from_secs(10), 3),
            "agent edge-1 (a1) in region \"eu\" has not been heard from since its start (heartbeat every 10s, 3 missed)"
        );
        assert_eq!(
            up_note(&row, 0),
            "closed automatically: agent edge-1 (a1) is back, heard from at 1970-01-01T00:00:00.000Z"
        );
    }

    #[tokio::test]
    async fn down_opens_one_request_and_up_closes_it() {
        let config = config(true);
        let (_dir, store) = store(&config).await;
        crate::agents::enroll::authenticate(&store, &config.agents, &hello("a1"))
            .await
            .expect("enrolled");
        let metrics = Arc::new(Metrics::new());
        let mut requests = StoreRequests::new(store.clone(), metrics, &config.agents);
        requests.down(&"a1".into()).await;
        requests.down(&"a1".into()).await;
        let open = store.agents_with_open_request().await.expect("open");
        assert_eq!(open, ["a1"]);
        requests.up(&"a1".into()).await;
        assert!(
            store
                .agents_with_open_request()
                .await
                .expect("open")
                .is_empty()
        );
        assert_eq!(
            event_types(&store).await,
            [
                "agent.registered",
                "agent.down",
                "request.opened",
                "agent.down",
                "agent.up",
                "request.closed"
            ]
        );
    }
}
