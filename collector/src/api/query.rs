//! What the API's calls read and command, in domain terms: the views the
//! reads return (a service with its maintenance end, an agent with its
//! liveness) and the bearer-token check. No proto types here; `convert`
//! turns the results into messages.

use std::collections::HashMap;

use tonic::Request;

use super::{ApiError, PicketApi};
use crate::domain::{AgentId, AgentState, EquipmentId, ServiceId};
use crate::store::{AgentRow, ServiceRow};

/// A service as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub row: ServiceRow,
    /// When its equipment's running maintenance window ends, if any.
    pub maintenance_until: Option<i64>,
}

/// An agent as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub row: AgentRow,
    /// Connected now and not declared dead.
    pub live: bool,
}

impl PicketApi {
    /// The request's message, if the call may go ahead: with an admin token
    /// configured, the request must carry it as `authorization: Bearer …`.
    pub(super) fn authorize<T>(&self, request: Request<T>) -> Result<T, ApiError> {
        let Some(token) = &self.settings.admin_token else {
            return Ok(request.into_inner());
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if crate::agents::auth::constant_time_eq(given.as_bytes(), token.as_bytes()) {
            Ok(request.into_inner())
        } else {
            Err(ApiError::Unauthenticated)
        }
    }

    /// End times of the running maintenance windows, by equipment.
    async fn maintenance_until(&self) -> Result<HashMap<EquipmentId, i64>, ApiError> {
        Ok(self
            .store
            .active_maintenance()
            .await?
            .into_iter()
            .map(|w| (w.equipment, w.ends_ms))
            .collect())
    }

    pub(super) async fn services(&self) -> Result<Vec<ServiceView>, ApiError> {
        let until = self.maintenance_until().await?;
        let rows = self.store.list_services().await?;
        Ok(rows
            .into_iter()
            .map(|row| ServiceView {
                maintenance_until: until.get(&row.equipment_id).copied(),
                row,
            })
            .collect())
    }

    pub(super) async fn service(&self, id: &ServiceId) -> Result<ServiceView, ApiError> {
        let row = self.store.get_service(id).await?;
        let until = self.maintenance_until().await?;
        Ok(ServiceView {
            maintenance_until: until.get(&row.equipment_id).copied(),
            row,
        })
    }

    pub(super) async fn agents(&self) -> Result<Vec<AgentView>, ApiError> {
        let rows = self.store.list_agents().await?;
        let live = self.agents.live().await;
        Ok(rows
            .into_iter()
            .map(|row| AgentView {
                live: live.contains(&row.id),
                row,
            })
            .collect())
    }

    /// Approves or suspends an agent (through the registry, so its checks
    /// follow at once).
    pub(super) async fn set_agent_state(
        &self,
        id: AgentId,
        state: AgentState,
    ) -> Result<AgentView, ApiError> {
        let row = self.agents.set_state(id, state).await?;
        let live = self.agents.live().await;
        Ok(AgentView {
            live: live.contains(&row.id),
            row,
        })
    }
}
