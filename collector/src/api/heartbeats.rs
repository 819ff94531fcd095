//! The heartbeat calls' work: reads from the store, state changes through
//! the heartbeats actor (leader only), and its errors as [`ApiError`]s.

use super::{ApiError, PicketApi};
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

    pub(super) async fn set_heartbeat_state(
        &self,
        id: HeartbeatId,
        state: HeartbeatState,
    ) -> Result<HeartbeatRow, ApiError> {
        Ok(self.leading()?.heartbeats.set_state(id, state).await?)
    }
}
