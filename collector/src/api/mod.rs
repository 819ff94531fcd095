//! The `picket.v1.Picket` client API.
//!
//! Reads come from the store (and the registry for liveness); commands go
//! to the owning actors' handles. Mutating calls need the admin bearer
//! token (its [`ApiSettings`]). Errors map to gRPC codes in `error.rs`, once.

mod convert;
mod error;

use std::pin::Pin;
use std::time::Duration;

use picket_proto::v1::{self as pb, picket_server::Picket};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::agents::AgentsHandle;
use crate::config::settings::ApiSettings;
use crate::domain::AgentState;
use crate::evaluator::EvaluatorHandle;
use crate::maintenance::MaintenanceHandle;
use crate::store::Store;
pub use error::ApiError;

/// The API service.
#[derive(Clone)]
pub struct PicketApi {
    pub store: Store,
    pub settings: ApiSettings,
    pub agents: AgentsHandle,
    pub maintenance: MaintenanceHandle,
    pub evaluator: EvaluatorHandle,
}

impl PicketApi {
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), ApiError> {
        let Some(token) = &self.settings.admin_token else {
            return Ok(());
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if crate::agents::auth::constant_time_eq(given.as_bytes(), token.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::Unauthenticated)
        }
    }

    async fn maintenance_until(&self) -> Result<std::collections::HashMap<String, i64>, ApiError> {
        Ok(self
            .store
            .active_maintenance()
            .await?
            .into_iter()
            .map(|w| (w.equipment, w.ends_ms))
            .collect())
    }

    async fn set_agent_state(&self, id: String, state: AgentState) -> Result<pb::Agent, ApiError> {
        let row = self.agents.set_state(id, state).await?;
        let live = self.agents.live().await;
        Ok(convert::agent(row, &live))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl Picket for PicketApi {
    async fn list_services(
        &self,
        _: Request<pb::ListServicesRequest>,
    ) -> Result<Response<pb::ListServicesResponse>, Status> {
        let until = self.maintenance_until().await?;
        let rows = self.store.list_services().await.map_err(ApiError::from)?;
        let services = rows
            .into_iter()
            .map(|s| {
                let m = until.get(&s.equipment_id).copied();
                convert::service(s, m)
            })
            .collect();
        Ok(Response::new(pb::ListServicesResponse { services }))
    }

    async fn get_service(
        &self,
        request: Request<pb::GetServiceRequest>,
    ) -> Result<Response<pb::Service>, Status> {
        let id = request.into_inner().id;
        let row = self.store.get_service(&id).await.map_err(ApiError::from)?;
        let until = self
            .maintenance_until()
            .await?
            .get(&row.equipment_id)
            .copied();
        Ok(Response::new(convert::service(row, until)))
    }

    async fn list_requests(
        &self,
        request: Request<pb::ListRequestsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let open_only = request.into_inner().open_only;
        let rows = self
            .store
            .list_requests(open_only)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListRequestsResponse {
            requests: rows.into_iter().map(convert::request).collect(),
        }))
    }

    async fn get_request(
        &self,
        request: Request<pb::GetRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let row = self
            .store
            .get_request(request.into_inner().id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(convert::request(row)))
    }

    async fn list_agents(
        &self,
        _: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        let rows = self.store.list_agents().await.map_err(ApiError::from)?;
        let live = self.agents.live().await;
        Ok(Response::new(pb::ListAgentsResponse {
            agents: rows.into_iter().map(|a| convert::agent(a, &live)).collect(),
        }))
    }

    async fn approve_agent(
        &self,
        request: Request<pb::AgentRef>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.authorize(&request)?;
        Ok(Response::new(
            self.set_agent_state(request.into_inner().id, AgentState::Active)
                .await?,
        ))
    }

    async fn suspend_agent(
        &self,
        request: Request<pb::AgentRef>,
    ) -> Result<Response<pb::Agent>, Status> {
        self.authorize(&request)?;
        Ok(Response::new(
            self.set_agent_state(request.into_inner().id, AgentState::Suspended)
                .await?,
        ))
    }

    async fn start_maintenance(
        &self,
        request: Request<pb::StartMaintenanceRequest>,
    ) -> Result<Response<pb::Maintenance>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let duration = (r.duration_ms > 0).then(|| Duration::from_millis(r.duration_ms));
        let w = self
            .maintenance
            .start(r.equipment, duration, r.reason)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(convert::maintenance(w)))
    }

    async fn end_maintenance(
        &self,
        request: Request<pb::EndMaintenanceRequest>,
    ) -> Result<Response<pb::Maintenance>, Status> {
        self.authorize(&request)?;
        let w = self
            .maintenance
            .end(request.into_inner().equipment)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(convert::maintenance(w)))
    }

    async fn check_now(
        &self,
        request: Request<pb::CheckNowRequest>,
    ) -> Result<Response<pb::CheckNowResponse>, Status> {
        self.authorize(&request)?;
        let results = self
            .evaluator
            .check_now(request.into_inner().service)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::CheckNowResponse {
            results: results.into_iter().map(convert::probe).collect(),
        }))
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let mut after = i64::try_from(request.into_inner().after_seq).unwrap_or(i64::MAX);
        let store = self.store.clone();
        let mut committed = store.subscribe_events();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                committed.borrow_and_update();
                let batch = match store.events_after(after, 500).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(ApiError::from(e)))).await;
                        return;
                    }
                };
                let full = batch.len() == 500;
                for e in batch {
                    after = e.seq;
                    if tx.send(Ok(convert::event(e))).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                tokio::select! {
                    changed = committed.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
