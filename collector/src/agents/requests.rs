//! The `[AGENT DOWN]` request as the dead-man's switch writes it: the
//! store calls that open and close it with `agent.down` / `agent.up`, the
//! metrics and the log lines. Its texts are `domain::texts`'.
//!
//! Settings: [`LivenessSettings`] (the interval and count the texts quote).

use std::sync::Arc;
use tracing::{info, warn};

use super::deadman::AgentRequests;
use crate::config::settings::LivenessSettings;
use crate::domain::{AgentId, Liveness, texts};
use crate::metrics::Metrics;
use crate::store::{AgentRow, Store};
use crate::time::now_ms;

/// [`AgentRequests`] on the store, with the metrics and the log lines.
pub struct StoreRequests {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub settings: LivenessSettings,
}

impl StoreRequests {
    pub fn new(store: Store, metrics: Arc<Metrics>, settings: LivenessSettings) -> Self {
        StoreRequests {
            store,
            metrics,
            settings,
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
        let request = texts::agent_down_request(
            &row.snapshot(Liveness::Dead),
            self.settings.heartbeat_interval,
            self.settings.missed_heartbeats,
        );
        match self.store.agent_down(&row, &request).await {
            Ok(request) => {
                self.metrics.agents_down.inc();
                if request.is_some() {
                    self.metrics.request_opened("agent");
                }
                let window = self.settings.dead_after();
                warn!(agent_id = %agent, name = %row.name, ?request, window = ?window, "agent down: dead-man's switch")
            }
            Err(e) => warn!(agent_id = %agent, error = %e, "cannot record agent down"),
        }
    }

    async fn up(&mut self, agent: &AgentId) {
        let Some(row) = self.row(agent).await else {
            return;
        };
        let note = texts::agent_closing_note(&row.snapshot(Liveness::Live), now_ms());
        match self.store.agent_up(&row, &note).await {
            Ok(request) => info!(agent_id = %agent, name = %row.name, ?request, "agent up"),
            Err(e) => warn!(agent_id = %agent, error = %e, "cannot record agent up"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testing::{event_types, hello, settings, store};

    #[tokio::test]
    async fn down_opens_one_request_and_up_closes_it() {
        let settings = settings(true);
        let (_dir, store) = store(&settings).await;
        crate::agents::enroll::authenticate(&store, &settings.registry.enrollment, &hello("a1"))
            .await
            .expect("enrolled");
        let metrics = Arc::new(Metrics::new());
        let mut requests = StoreRequests::new(store.clone(), metrics, settings.liveness);
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
