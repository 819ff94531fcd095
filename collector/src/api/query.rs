//! What the API's calls read and command, in domain terms: the views the
//! reads return (a service with its maintenance end, an agent with its
//! liveness) and the bearer-token checks. No proto types here; `convert`
//! turns the results into messages.
//!
//! Admin calls need `admin_token`, and are refused when none is configured
//! (never open), and on a standby (`UNAVAILABLE`, naming the leader). Read calls need `read_token` or `admin_token` when
//! `read_token` is set, and are open otherwise. A wrong or missing token
//! counts against the caller's address in the [`crate::auth_limit::AuthLimiter`], which
//! refuses further tries with `RESOURCE_EXHAUSTED` before reading them.

use std::collections::HashMap;

use tonic::Request;

use super::convert::{ListAgents, ListDeliveries, ListServices};
use super::{ApiError, Leading, Mode, PicketApi};
use crate::agents::auth;
use crate::auth_limit::AuthFailure;
use crate::domain::rollup::{History, Scope};
use crate::domain::{AgentId, AgentState, EquipmentId, ServiceId};
use crate::maintenance::{ScheduleInfo, schedules};
use crate::notifier::Receiver;
use crate::store::{AgentRow, Cursor, DeliveryRow, MaintenanceWindow, OutboxCounts, ServiceRow};

/// A service as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub row: ServiceRow,
    /// When its equipment's running maintenance window ends, if any.
    pub maintenance_until: Option<i64>,
    /// Since when and by which agents, when it is `degraded`.
    pub degraded: Option<crate::store::Degraded>,
}

/// An agent as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    pub row: AgentRow,
    /// Connected now and not declared dead.
    pub live: bool,
    /// Its running mute, if any.
    pub mute: Option<crate::store::Mute>,
}

/// A webhook receiver as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookView {
    pub receiver: Receiver,
    pub counts: OutboxCounts,
}

impl PicketApi {
    /// The request's message, if an admin call may go ahead: it carries
    /// the admin token as `authorization: Bearer …`.
    pub(super) fn admin<T>(&self, request: Request<T>) -> Result<T, ApiError> {
        self.leading()?;
        let settings = self.settings.load();
        let Some(admin) = &settings.admin_token else {
            return Err(ApiError::AdminDisabled);
        };
        self.bearer(request, &[admin])
    }

    /// The leader's actors, or on a standby `UNAVAILABLE` "standby; leader
    /// is URL".
    pub(super) fn leading(&self) -> Result<&Leading, ApiError> {
        match &self.mode {
            Mode::Leader(leading) => Ok(leading),
            Mode::Standby(standby) => Err(ApiError::Unavailable(crate::leader::not_leading(
                &standby.role,
            ))),
        }
    }

    /// The running maintenance windows and the schedules with their next
    /// starts: the maintenance actor's on the leader; on a standby, the
    /// windows the store holds that have not ended by now and the
    /// configured schedules.
    pub(super) async fn maintenance(
        &self,
    ) -> Result<(Vec<MaintenanceWindow>, Vec<ScheduleInfo>), ApiError> {
        match &self.mode {
            Mode::Leader(leading) => Ok(leading.maintenance.list().await?),
            Mode::Standby(standby) => {
                let now = self.store.clock().now_ms();
                let mut windows = self.store.active_maintenance().await?;
                windows.retain(|w| w.ends_ms > now);
                windows.sort_by(|a, b| a.equipment.cmp(&b.equipment));
                Ok((windows, schedules(&standby.schedules, now)))
            }
        }
    }

    /// The request's message, if a read call may go ahead: open without a
    /// read token, else it carries the read or the admin token.
    pub(super) fn read<T>(&self, request: Request<T>) -> Result<T, ApiError> {
        let settings = self.settings.load();
        let Some(read) = &settings.read_token else {
            return Ok(request.into_inner());
        };
        match &settings.admin_token {
            Some(admin) => self.bearer(request, &[read, admin]),
            None => self.bearer(request, &[read]),
        }
    }

    /// Checks the bearer token against each of `accepted` in constant time,
    /// after the limiter let the caller's address try.
    fn bearer<T>(&self, request: Request<T>, accepted: &[&String]) -> Result<T, ApiError> {
        let attempt = self
            .limiter
            .attempt(request.remote_addr())
            .map_err(|e| ApiError::RateLimited(e.to_string()))?;
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let valid = accepted
            .iter()
            .fold(false, |ok, token| ok | auth::token_eq(given, token));
        if valid {
            Ok(request.into_inner())
        } else {
            attempt.failed(AuthFailure::Bearer);
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

    /// A page of services and whether more follow.
    pub(super) async fn services(
        &self,
        args: &ListServices,
    ) -> Result<(Vec<ServiceView>, bool), ApiError> {
        let until = self.maintenance_until().await?;
        let mut degraded = self.store.degraded_services().await?;
        let cursor = match &args.after {
            Some((equipment, id)) => Cursor::AfterKey(equipment.clone(), id.clone()),
            None => Cursor::First,
        };
        let page = self
            .store
            .service_page(&args.filter, &cursor, args.size)
            .await?;
        let views = page
            .services
            .into_iter()
            .map(|s| ServiceView {
                maintenance_until: until.get(&s.row.equipment_id).copied(),
                degraded: degraded.remove(&s.row.id),
                row: s.row,
            })
            .collect();
        Ok((views, page.has_next))
    }

    pub(super) async fn service(&self, id: &ServiceId) -> Result<ServiceView, ApiError> {
        let row = self.store.get_service(id).await?;
        let until = self.maintenance_until().await?;
        let degraded = self.store.degraded_services().await?.remove(&row.id);
        Ok(ServiceView {
            maintenance_until: until.get(&row.equipment_id).copied(),
            degraded,
            row,
        })
    }

    /// A service's uptime windows and daily bars, from its rollups.
    pub(super) async fn history(&self, id: &ServiceId) -> Result<History, ApiError> {
        let now = self.store.clock().now_ms();
        Ok(self.store.history(Scope::Service, id.as_str(), now).await?)
    }

    /// A page of agents, with one more than the page when more follow.
    pub(super) async fn agents(&self, args: &ListAgents) -> Result<Vec<AgentView>, ApiError> {
        let rows = self
            .store
            .agent_page(&args.filter, args.after.as_ref(), args.size + 1)
            .await?;
        let live = self.agents.live().await?;
        let mut mutes = self.store.mutes().await?;
        Ok(rows
            .into_iter()
            .map(|row| AgentView {
                live: live.contains(&row.id),
                mute: mutes.remove(&row.id),
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
        let row = self.leading()?.agents.set_state(id, state).await?;
        let live = self.agents.live().await?;
        let mute = self.store.mutes().await?.remove(&row.id);
        Ok(AgentView {
            live: live.contains(&row.id),
            mute,
            row,
        })
    }

    /// The configured receivers with their outbox counts.
    pub(super) async fn webhooks(&self) -> Result<Vec<WebhookView>, ApiError> {
        let counts = self.store.outbox_counts().await?;
        Ok(self
            .webhooks
            .list()
            .into_iter()
            .map(|receiver| WebhookView {
                counts: counts.get(&receiver.name).copied().unwrap_or_default(),
                receiver,
            })
            .collect())
    }

    /// A page of deliveries, newest first, with one more than the page
    /// when more follow; a named receiver must be configured.
    pub(super) async fn deliveries(
        &self,
        args: &ListDeliveries,
    ) -> Result<Vec<DeliveryRow>, ApiError> {
        if let Some(name) = &args.filter.webhook
            && !self.webhooks.list().iter().any(|r| &r.name == name)
        {
            return Err(ApiError::NotFound(format!("webhook {name} not found")));
        }
        let limit = args.size as i64 + 1;
        Ok(self
            .store
            .delivery_page(&args.filter, args.before, limit)
            .await?)
    }
}
