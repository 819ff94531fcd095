//! The harness's agent mute calls (`MuteAgent`, `UnmuteAgent`).

use std::time::Duration;

use picket_proto::v1 as api;

use super::{Harness, admin};

impl Harness {
    /// Mutes `agent` for `duration` with `note`.
    pub async fn mute(
        &self,
        agent: &str,
        duration: Duration,
        note: &str,
    ) -> Result<api::Agent, tonic::Status> {
        let request = admin(api::MuteAgentRequest {
            id: agent.into(),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            note: note.into(),
        });
        Ok(self.client.clone().mute_agent(request).await?.into_inner())
    }

    /// Ends `agent`'s mute.
    pub async fn unmute(&self, agent: &str) -> Result<api::Agent, tonic::Status> {
        let request = admin(api::AgentRef { id: agent.into() });
        Ok(self
            .client
            .clone()
            .unmute_agent(request)
            .await?
            .into_inner())
    }
}
