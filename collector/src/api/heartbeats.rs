//! The heartbeat calls' work: reads from the store, state changes through
//! the heartbeats actor (leader only), and its errors as [`ApiError`]s.

use picket_proto::v1 as pb;
use tonic::Request;

use super::{ApiError, PicketApi, convert};
use crate::domain::{HeartbeatId, HeartbeatState};
use crate::heartbeats::HeartbeatError;
use crate::store::HeartbeatRow;

impl From<HeartbeatError> for ApiError {
    fn from(e: HeartbeatError) -> Self {
        match e {
            HeartbeatError::Unknown(_) => ApiError::NotFound(e.to_string()),
            HeartbeatError::Store(e) => e.into(),
            HeartbeatError::Stopped => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl PicketApi {
    /// The stored heartbeat `id`, or `NOT_FOUND`.
    pub(super) async fn heartbeat(&self, id: &HeartbeatId) -> Result<HeartbeatRow, ApiError> {
        self.store
            .get_heartbeat(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("unknown heartbeat {id:?}")))
    }

    /// `ListHeartbeats`: a page in id order.
    pub(super) async fn heartbeat_page(
        &self,
        request: Request<pb::ListHeartbeatsRequest>,
    ) -> Result<pb::ListHeartbeatsResponse, ApiError> {
        let args = convert::ListHeartbeats::try_from(self.read(request)?)?;
        let limit = u32::try_from(args.size + 1).unwrap_or(u32::MAX);
        let rows = (self.store)
            .list_heartbeats(args.state, args.after.as_ref(), limit)
            .await?;
        Ok(convert::heartbeats(&args, rows))
    }

    /// `ApproveHeartbeat` (`active`) and `SuspendHeartbeat` (admin).
    pub(super) async fn set_heartbeat_state(
        &self,
        request: Request<pb::HeartbeatRef>,
        state: HeartbeatState,
    ) -> Result<pb::Heartbeat, ApiError> {
        let id = convert::heartbeat_id(self.admin(request)?)?;
        let row = self.leading()?.heartbeats.set_state(id, state).await?;
        Ok(convert::heartbeat(row))
    }

    /// `IssueHeartbeatToken` (admin): a new token, shown once.
    pub(super) async fn heartbeat_token(
        &self,
        request: Request<pb::HeartbeatRef>,
    ) -> Result<pb::HeartbeatToken, ApiError> {
        let id = convert::heartbeat_id(self.admin(request)?)?;
        let token = (self.leading()?.heartbeats).issue_token(id.clone()).await?;
        Ok(convert::heartbeat_token(id, token))
    }
}
