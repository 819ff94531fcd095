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
use crate::time::Clock;

/// [`AgentRequests`] on the store, with the metrics and the log lines.
pub struct StoreRequests {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub settings: LivenessSettings,
    /// Dates the closing notes.
    pub clock: Clock,
}

impl StoreRequests {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        settings: LivenessSettings,
        clock: Clock,
    ) -> Self {
        StoreRequests {
            store,
            metrics,
            settings,
            clock,
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
        let note = texts::agent_closing_note(&row.snapshot(Liveness::Live), self.clock.now_ms());
        match self.store.agent_up(&row, &note).await {
            Ok(request) => info!(agent_id = %agent, name = %row.name, ?request, "agent up"),
            Err(e) => warn!(agent_id = %agent, error = %e, "cannot record agent up"),
        }
    }

    fn reconfigure(&mut self, settings: LivenessSettings) {
        self.settings = settings;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::agents::testing::{event_types, hello, settings, store_on};
    use crate::domain::{CloseReason, Stage};
    use crate::testing::{BASE_MS, TestClock};

    /// On the paused clock: the request is opened when the agent goes down
    /// and closed, with a note dated by the clock, when it comes back.
    #[tokio::test(start_paused = true)]
    async fn down_opens_one_request_and_up_closes_it_at_the_clock_time() {
        let time = TestClock::hold(BASE_MS);
        let settings = settings(true);
        let (_dir, store) = store_on(&settings, time.clock()).await;
        let enrollment = &settings.registry.enrollment;
        crate::agents::enroll::authenticate(&store, enrollment, &hello("a1"), BASE_MS)
            .await
            .expect("enrolled");
        let metrics = Arc::new(Metrics::new());
        let mut requests =
            StoreRequests::new(store.clone(), metrics, settings.liveness, time.clock());
        requests.down(&"a1".into()).await;
        time.advance(Duration::from_secs(5)).await;
        requests.down(&"a1".into()).await;
        let open = store.agents_with_open_request().await.expect("open");
        assert_eq!(open, ["a1"]);
        time.advance(Duration::from_secs(90)).await;
        requests.up(&"a1".into()).await;
        assert!(
            store
                .agents_with_open_request()
                .await
                .expect("open")
                .is_empty()
        );
        let requests = store.list_requests(false).await.expect("requests");
        let [request] = requests.as_slice() else {
            panic!("one request, got {requests:?}");
        };
        let up_ms = BASE_MS + 95_000;
        assert_eq!(
            (
                request.stage,
                request.close_reason,
                request.opened_ms,
                request.closed_ms
            ),
            (
                Stage::Done,
                Some(CloseReason::Recovered),
                BASE_MS,
                Some(up_ms)
            )
        );
        let row = store
            .get_agent(&"a1".into())
            .await
            .expect("get")
            .expect("known");
        let note = request.notes.last().expect("a closing note");
        assert_eq!(
            (note.author.as_str(), note.time_ms, note.text.as_str()),
            (
                "picket",
                up_ms,
                texts::agent_closing_note(&row.snapshot(Liveness::Live), up_ms).as_str()
            )
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
