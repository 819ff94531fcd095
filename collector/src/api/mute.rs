//! `MuteAgent` / `UnmuteAgent` (admin): through the leader's mute actor
//! (`crate::mute`), answered with the agent as `ListAgents` shows it.

use std::time::Duration;

use picket_proto::v1 as pb;
use tonic::Request;

use super::error::ApiError;
use super::query::AgentView;
use super::{PicketApi, convert};
use crate::domain::AgentId;
use crate::mute::MuteError;
use crate::store::AgentRow;

impl From<MuteError> for ApiError {
    fn from(e: MuteError) -> Self {
        match e {
            MuteError::UnknownAgent(_) => ApiError::NotFound(e.to_string()),
            MuteError::Duration(_) => ApiError::Invalid(e.to_string()),
            MuteError::Store(e) => e.into(),
            MuteError::Stopped => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl PicketApi {
    pub(super) async fn mute(
        &self,
        request: Request<pb::MuteAgentRequest>,
    ) -> Result<pb::Agent, ApiError> {
        let args = self.admin(request)?;
        let id: AgentId = convert::id("id", args.id)?.into();
        let duration = Duration::from_millis(args.duration_ms);
        let (row, _) = (self.leading()?.mute).mute(id, duration, args.note).await?;
        self.agent_view(row).await
    }

    pub(super) async fn unmute(
        &self,
        request: Request<pb::AgentRef>,
    ) -> Result<pb::Agent, ApiError> {
        let id: AgentId = convert::id("id", self.admin(request)?.id)?.into();
        let row = self.leading()?.mute.unmute(id).await?;
        self.agent_view(row).await
    }

    async fn agent_view(&self, row: AgentRow) -> Result<pb::Agent, ApiError> {
        let live = self.agents.live().await?;
        let mute = self.store.mutes().await?.remove(&row.id);
        Ok(convert::agent(AgentView {
            live: live.contains(&row.id),
            mute,
            row,
        }))
    }
}
