//! The `picket.v1.Picket` client API.
//!
//! Each call is thin: check the bearer token (`query`: the admin token
//! where the call mutates, the read token if one is set), turn
//! the request into arguments ([`convert`]), read the store or command the
//! owning actor's handle ([`query`], [`watch`]), and turn the answer into
//! a message ([`convert`]). Errors map to gRPC codes in `error.rs`, once.
//! [`server`] wraps the service for tonic. The API reads only its
//! [`ApiSettings`] (the tokens, swapped by a reload); `Reload` asks the
//! reload task ([`ReloadHandle`]).
//!
//! A standby serves the same API in [`Mode::Standby`]: the read calls
//! answer from the store (what the leader last wrote: service states,
//! requests, deliveries, events, which `WatchEvents` looks for every
//! second; an agent counts as live when the leader recorded a heartbeat
//! from it within the dead-man's window; webhooks as configured, none
//! disabled), while every admin call is refused with `UNAVAILABLE`
//! "standby; leader is URL", so that a client can follow.

mod convert;
mod error;
mod heartbeats;
mod manual;
mod mode;
mod mute;
mod paging;
mod query;
mod watch;

use std::pin::Pin;
use std::sync::Arc;

use arc_swap::ArcSwap;

use picket_proto::contract::limits;
use picket_proto::v1::{
    self as pb,
    picket_server::{Picket, PicketServer},
};
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};
use tonic_reflection::server::{v1, v1alpha};

use crate::agents::AgentsView;
use crate::auth_limit::AuthLimiter;
use crate::config::settings::ApiSettings;
use crate::domain::{AgentState, HeartbeatState};
use crate::notifier::Receivers;
use crate::reload::ReloadError;
use crate::store::Store;
pub use convert::BadField;
pub use error::ApiError;
pub use mode::{Leading, Mode, Standby};

/// The API service.
#[derive(Clone)]
pub struct PicketApi {
    pub store: Store,
    /// The tokens; a reload swaps them (each call reads the current ones).
    pub settings: Arc<ArcSwap<ApiSettings>>,
    /// Which agents are live (the registry; the store on a standby).
    pub agents: AgentsView,
    /// The webhook receivers and which are disabled (from the notifier;
    /// as configured on a standby).
    pub webhooks: Receivers,
    /// Brakes bearer-token guessing per source address.
    pub limiter: AuthLimiter,
    /// Ends the WatchEvents tails at shutdown.
    pub cancel: CancellationToken,
    /// Where the WatchEvents tails run, so that shutdown drains them.
    pub tasks: TaskTracker,
    /// Leader or standby.
    pub mode: Mode,
}

/// The API as a tonic service, ready for `Server::add_service`; requests
/// over `MAX_REQUEST_BYTES` (64 KiB) are refused with `OUT_OF_RANGE`, and
/// answers are encoded up to `MAX_API_MESSAGE_BYTES` (4 MiB; list pages
/// stop short of it).
pub fn server(api: PicketApi) -> PicketServer<PicketApi> {
    PicketServer::new(api)
        .max_decoding_message_size(convert::MAX_REQUEST_BYTES)
        .max_encoding_message_size(limits::MAX_API_MESSAGE_BYTES)
}

/// Reflection over Picket's protos and the health service (grpcurl works).
pub fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(picket_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// The gRPC health service and its reporter, with the contract's message
/// limits (`MAX_API_MESSAGE_BYTES`) set explicitly both ways.
pub fn health() -> (
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, server) = tonic_health::server::health_reporter();
    let server = server
        .max_decoding_message_size(limits::MAX_API_MESSAGE_BYTES)
        .max_encoding_message_size(limits::MAX_API_MESSAGE_BYTES);
    (reporter, server)
}

/// Reflection v1 and v1alpha ([`reflection`]), with the contract's message
/// limits set explicitly both ways.
pub fn reflections() -> Result<
    (
        v1::ServerReflectionServer<impl v1::ServerReflection>,
        v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>,
    ),
    tonic_reflection::server::Error,
> {
    let limit = limits::MAX_API_MESSAGE_BYTES;
    let v1 = reflection()
        .build_v1()?
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let v1alpha = reflection()
        .build_v1alpha()?
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    Ok((v1, v1alpha))
}

#[tonic::async_trait]
impl Picket for PicketApi {
    async fn list_services(
        &self,
        request: Request<pb::ListServicesRequest>,
    ) -> Result<Response<pb::ListServicesResponse>, Status> {
        let args = convert::ListServices::try_from(self.read(request)?)?;
        let (views, more) = self.services(&args).await?;
        Ok(Response::new(convert::services(&args, views, more)))
    }

    async fn get_service(
        &self,
        request: Request<pb::GetServiceRequest>,
    ) -> Result<Response<pb::Service>, Status> {
        let id = convert::id("id", self.read(request)?.id)?;
        let service = self.service(&id.into()).await?;
        let history = self.history(&service.row.id).await?;
        let latest = self.store.latest_results(&service.row.id).await?;
        let warning = std::time::Duration::from_millis(service.row.cert_warning_ms.max(0) as u64);
        let expiring = crate::domain::cert::expiring_at(
            latest.iter().map(|l| l.outcome.cert_not_after_ms),
            self.store.clock().now_ms(),
            warning,
        );
        let mut answer = convert::service(service);
        answer.cert_expiring_at = expiring.map(convert::timestamp);
        answer.history = Some(convert::history(history));
        answer.latest = latest.into_iter().map(convert::latest).collect();
        Ok(Response::new(answer))
    }

    async fn list_requests(
        &self,
        request: Request<pb::ListRequestsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let args = convert::ListRequests::try_from(self.read(request)?)?;
        let rows = (self.store)
            .request_page(&args.filter, args.after, args.size + 1)
            .await?;
        Ok(Response::new(convert::requests(&args, rows)))
    }

    async fn get_request(
        &self,
        request: Request<pb::GetRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let found = self
            .store
            .get_request(self.read(request)?.id.into())
            .await?;
        Ok(Response::new(convert::request(found)))
    }

    async fn list_agents(
        &self,
        request: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        let args = convert::ListAgents::try_from(self.read(request)?)?;
        let views = self.agents(&args).await?;
        Ok(Response::new(convert::agents(&args, views)))
    }

    async fn approve_agent(
        &self,
        request: Request<pb::AgentRef>,
    ) -> Result<Response<pb::Agent>, Status> {
        let id = convert::id("id", self.admin(request)?.id)?.into();
        let agent = self.set_agent_state(id, AgentState::Active).await?;
        Ok(Response::new(convert::agent(agent)))
    }

    async fn suspend_agent(
        &self,
        request: Request<pb::AgentRef>,
    ) -> Result<Response<pb::Agent>, Status> {
        let id = convert::id("id", self.admin(request)?.id)?.into();
        let agent = self.set_agent_state(id, AgentState::Suspended).await?;
        Ok(Response::new(convert::agent(agent)))
    }

    async fn start_maintenance(
        &self,
        request: Request<pb::StartMaintenanceRequest>,
    ) -> Result<Response<pb::Maintenance>, Status> {
        let args = convert::StartMaintenance::try_from(self.admin(request)?)?;
        let window = (self.leading()?.maintenance)
            .start(args.equipment, args.duration, args.reason, args.mode)
            .await?;
        Ok(Response::new(convert::maintenance(window)))
    }

    async fn end_maintenance(
        &self,
        request: Request<pb::EndMaintenanceRequest>,
    ) -> Result<Response<pb::Maintenance>, Status> {
        let equipment = convert::id("equipment", self.admin(request)?.equipment)?.into();
        let window = self.leading()?.maintenance.end(equipment).await?;
        Ok(Response::new(convert::maintenance(window)))
    }

    async fn list_maintenance(
        &self,
        request: Request<pb::ListMaintenanceRequest>,
    ) -> Result<Response<pb::ListMaintenanceResponse>, Status> {
        self.read(request)?;
        let (windows, schedules) = self.maintenance().await?;
        Ok(Response::new(convert::maintenance_list(windows, schedules)))
    }

    async fn check_now(
        &self,
        request: Request<pb::CheckNowRequest>,
    ) -> Result<Response<pb::CheckNowResponse>, Status> {
        let service = convert::id("service", self.admin(request)?.service)?.into();
        let results = self.leading()?.evaluator.check_now(service).await?;
        Ok(Response::new(convert::probes(results)))
    }

    async fn list_webhooks(
        &self,
        request: Request<pb::ListWebhooksRequest>,
    ) -> Result<Response<pb::ListWebhooksResponse>, Status> {
        self.read(request)?;
        Ok(Response::new(convert::webhooks(self.webhooks().await?)))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let args = convert::ListDeliveries::try_from(self.read(request)?)?;
        let rows = self.deliveries(&args).await?;
        Ok(Response::new(convert::deliveries(&args, rows)))
    }

    async fn reload(
        &self,
        request: Request<pb::ReloadRequest>,
    ) -> Result<Response<pb::ReloadResponse>, Status> {
        self.admin(request)?;
        let outcome = self.leading()?.reload.reload().await;
        if let Err(ReloadError::Stopped) = outcome {
            return Err(Status::unavailable("the collector is shutting down"));
        }
        Ok(Response::new(convert::reloaded(outcome)))
    }

    async fn close_request(
        &self,
        request: Request<pb::CloseRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let args = convert::CloseRequest::try_from(self.admin(request)?)?;
        let closed = self.close_by_hand(args).await?;
        Ok(Response::new(convert::request(closed)))
    }

    async fn add_request_note(
        &self,
        request: Request<pb::AddRequestNoteRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let args = convert::AddNote::try_from(self.admin(request)?)?;
        let noted = self.store.add_request_note(args.id, &args.text).await?;
        Ok(Response::new(convert::request(noted)))
    }

    async fn mute_agent(
        &self,
        request: Request<pb::MuteAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        Ok(Response::new(self.mute(request).await?))
    }

    async fn unmute_agent(
        &self,
        request: Request<pb::AgentRef>,
    ) -> Result<Response<pb::Agent>, Status> {
        Ok(Response::new(self.unmute(request).await?))
    }

    async fn acknowledge_request(
        &self,
        request: Request<pb::AcknowledgeRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let args = convert::Acknowledge::try_from(self.admin(request)?)?;
        let acked = (self.store)
            .acknowledge_request(args.id, &args.by, args.note.as_deref())
            .await?;
        Ok(Response::new(convert::request(acked)))
    }

    async fn list_heartbeats(
        &self,
        request: Request<pb::ListHeartbeatsRequest>,
    ) -> Result<Response<pb::ListHeartbeatsResponse>, Status> {
        Ok(Response::new(self.heartbeat_page(request).await?))
    }

    async fn get_heartbeat(
        &self,
        request: Request<pb::HeartbeatRef>,
    ) -> Result<Response<pb::Heartbeat>, Status> {
        let id = convert::heartbeat_id(self.read(request)?)?;
        Ok(Response::new(convert::heartbeat(
            self.heartbeat(&id).await?,
        )))
    }

    async fn approve_heartbeat(
        &self,
        request: Request<pb::HeartbeatRef>,
    ) -> Result<Response<pb::Heartbeat>, Status> {
        Ok(Response::new(
            self.set_heartbeat_state(request, HeartbeatState::Active)
                .await?,
        ))
    }

    async fn suspend_heartbeat(
        &self,
        request: Request<pb::HeartbeatRef>,
    ) -> Result<Response<pb::Heartbeat>, Status> {
        Ok(Response::new(
            self.set_heartbeat_state(request, HeartbeatState::Suspended)
                .await?,
        ))
    }

    async fn issue_heartbeat_token(
        &self,
        request: Request<pb::HeartbeatRef>,
    ) -> Result<Response<pb::HeartbeatToken>, Status> {
        Ok(Response::new(self.heartbeat_token(request).await?))
    }

    type WatchEventsStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let after = convert::after_seq(&self.read(request)?);
        let poll = match self.mode {
            Mode::Leader(_) => None,
            Mode::Standby(_) => Some(watch::STANDBY_POLL),
        };
        let events = watch::tail(
            self.store.clone(),
            after,
            poll,
            self.cancel.clone(),
            &self.tasks,
        )
        .map(|event| event.map(convert::event).map_err(Status::from));
        Ok(Response::new(Box::pin(events)))
    }
}
