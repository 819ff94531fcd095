//! The `picket.agent.v1.AgentLink` service: one bidirectional stream per
//! agent.
//!
//! A connection must open with `Hello`; the agents registry authenticates
//! it (and refuses a second live connection with the same id), then a
//! [`session`] task runs the stream until either side ends it. Refusals
//! map to gRPC codes here, once, through the contract's table
//! (`picket_proto::contract::RefusalKind`): bad token or credential →
//! `UNAUTHENTICATED`, duplicate id → `ALREADY_EXISTS`, wrong protocol →
//! `FAILED_PRECONDITION`, unusable hello → `INVALID_ARGUMENT`, collector
//! trouble → `UNAVAILABLE`. A bad token or credential also counts against
//! the peer's address in the [`AuthLimiter`]; an address past its limit is
//! refused with `RESOURCE_EXHAUSTED` without its hello being judged. [`convert`] wraps both halves of the stream, so
//! the session sees domain messages only; [`server`] wraps the service
//! for tonic, with the contract's message size limit.
//!
//! Hostile input: a stream that does not open with a usable Hello within
//! [`HELLO_TIMEOUT`] is refused (`INVALID_ARGUMENT`, or `DEADLINE_EXCEEDED`
//! for silence); a message over `MAX_LINK_MESSAGE_BYTES` ends the stream
//! with `INVALID_ARGUMENT` (the agent would send it again); what a session
//! takes after the Hello is [`guard`]'s policy. Each refusal is counted in
//! `picket_link_rejected_total{reason}` and logged once per stream.

pub mod convert;
pub mod guard;
mod session;

use std::time::Duration;

use picket_proto::agent::v1::{
    self as pb,
    agent_link_server::{AgentLink, AgentLinkServer},
};
use std::sync::Arc;

use picket_proto::contract::RefusalKind;
use picket_proto::contract::limits::MAX_LINK_MESSAGE_BYTES;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, debug, info_span, warn};

use self::convert::{ConvertError, DownStream, UplinkError};
use self::guard::{Guard, Reason};
use crate::agents::{AgentsHandle, DownlinkTx, Refusal};
use crate::auth_limit::{AuthFailure, AuthLimiter};
use crate::domain::Uplink;
use crate::ingest::IngestHandle;
use crate::metrics::Metrics;
use crate::time::Clock;

/// Downlink messages queued per agent before the session is dropped.
const DOWNLINK_CAPACITY: usize = 1024;
/// How long a new stream may take to say hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The gRPC service; one per collector.
#[derive(Clone)]
pub struct AgentLinkService {
    agents: AgentsHandle,
    ingest: IngestHandle,
    /// Brakes token and credential guessing per source address.
    limiter: AuthLimiter,
    /// Stamps heartbeats.
    clock: Clock,
    cancel: CancellationToken,
    tasks: TaskTracker,
    metrics: Arc<Metrics>,
}

impl AgentLinkService {
    pub fn new(
        agents: AgentsHandle,
        ingest: IngestHandle,
        limiter: AuthLimiter,
        clock: Clock,
        cancel: CancellationToken,
        tasks: TaskTracker,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            agents,
            ingest,
            limiter,
            clock,
            cancel,
            tasks,
            metrics,
        }
    }

    /// Counts and logs a stream refused before its session started.
    fn refuse(&self, reason: Reason, why: String, peer: Option<std::net::SocketAddr>) -> Status {
        self.metrics.link_rejected(reason.as_str());
        warn!(reason = reason.as_str(), peer = ?peer, %why, "agent stream refused before hello");
        match reason {
            Reason::HelloTimeout => Status::deadline_exceeded(why),
            _ => RefusalKind::Invalid.status(why),
        }
    }
}

/// The link as a tonic service, ready for `Server::add_service`; it
/// decodes and encodes messages of up to `MAX_LINK_MESSAGE_BYTES` (4 MiB),
/// the limit the agent's side sets too.
pub fn server(link: AgentLinkService) -> AgentLinkServer<AgentLinkService> {
    AgentLinkServer::new(link)
        .max_decoding_message_size(MAX_LINK_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_LINK_MESSAGE_BYTES)
}

/// The status a refusal travels as, through the contract's table.
fn status(refusal: &Refusal) -> Status {
    let kind = match refusal {
        Refusal::BadToken => RefusalKind::BadToken,
        Refusal::BadCredential(_) => RefusalKind::BadCredential,
        Refusal::Duplicate(_) => RefusalKind::Duplicate,
        Refusal::Incompatible(_) => RefusalKind::Incompatible,
        Refusal::Invalid(_) => RefusalKind::Invalid,
        Refusal::Unavailable(_) => RefusalKind::Unavailable,
    };
    kind.status(refusal.to_string())
}

#[tonic::async_trait]
impl AgentLink for AgentLinkService {
    type ConnectStream = DownStream;

    async fn connect(
        &self,
        request: Request<Streaming<pb::AgentMessage>>,
    ) -> Result<Response<DownStream>, Status> {
        let peer = request.remote_addr();
        let mut inbound = convert::uplinks(request.into_inner());
        let Ok(first) = tokio::time::timeout(HELLO_TIMEOUT, inbound.next()).await else {
            let why = format!("no hello within {}s", HELLO_TIMEOUT.as_secs());
            return Err(self.refuse(Reason::HelloTimeout, why, peer));
        };
        let hello = match first {
            Some(Ok(Uplink::Hello(hello))) => hello,
            Some(Err(UplinkError::Stream(status))) => return Err(status),
            Some(Err(e @ UplinkError::TooLarge(_))) => {
                return Err(self.refuse(Reason::TooLarge, e.to_string(), peer));
            }
            Some(Err(UplinkError::Malformed(e @ ConvertError::Hello(_)))) => {
                return Err(self.refuse(Reason::BadHello, e.to_string(), peer));
            }
            _ => {
                let why = "the first message must be a hello".to_owned();
                return Err(self.refuse(Reason::NoHello, why, peer));
            }
        };
        debug!(?hello, peer = ?peer, "hello");
        // Taken once the hello is in, so that streams idling before their
        // hello hold no token.
        let attempt = self
            .limiter
            .attempt(peer)
            .map_err(|limited| RefusalKind::RateLimited.status(limited.to_string()))?;
        let agent_id = hello.agent_id.clone();
        let (down_tx, down_rx) = DownlinkTx::channel(DOWNLINK_CAPACITY);
        let session_cancel = self.cancel.child_token();
        let welcome = match self
            .agents
            .hello(hello, down_tx.clone(), session_cancel.clone())
            .await
        {
            Ok(w) => w,
            Err(refusal) => {
                match refusal {
                    Refusal::BadToken => attempt.failed(AuthFailure::EnrollmentToken),
                    Refusal::BadCredential(_) => attempt.failed(AuthFailure::Credential),
                    _ => drop(attempt),
                }
                warn!(agent_id = %agent_id, peer = ?peer, reason = %refusal, "agent refused");
                return Err(status(&refusal));
            }
        };
        // Authenticated: the attempt's token goes back.
        drop(attempt);
        self.metrics.agent_connections.inc();
        // The welcome goes first (the response stream starts with it); the
        // session forwards the rest.
        let (out_tx, out_rx) = mpsc::channel(64);
        let response = convert::downlinks(&welcome, out_rx);
        let span =
            info_span!("agent_session", agent_id = %welcome.agent_id, session = welcome.session);
        let session = session::Session {
            agent: welcome.agent_id.clone(),
            session: welcome.session,
            inbound,
            outbound: out_tx,
            downlink: down_rx,
            ack: down_tx,
            agents: self.agents.clone(),
            ingest: self.ingest.clone(),
            clock: self.clock.clone(),
            guard: Guard::new(welcome.last_committed_seq, tokio::time::Instant::now()),
            directory: self.agents.directory(),
            metrics: self.metrics.clone(),
        };
        self.tasks
            .spawn(session.run(session_cancel).instrument(span));
        Ok(Response::new(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn refusals_travel_as_the_contract_says() {
        fn check(refusal: Refusal, code: Code, message: &str) {
            let s = status(&refusal);
            assert_eq!((s.code(), s.message()), (code, message), "{refusal:?}");
        }
        check(
            Refusal::BadToken,
            Code::Unauthenticated,
            "invalid enrollment token",
        );
        check(
            Refusal::BadCredential("a1".into()),
            Code::Unauthenticated,
            "invalid credential for agent a1",
        );
        check(
            Refusal::Duplicate("a1".into()),
            Code::AlreadyExists,
            "agent id a1 is already connected",
        );
        check(
            Refusal::Incompatible(9),
            Code::FailedPrecondition,
            "unsupported protocol version 9 (this collector speaks 2)",
        );
        check(
            Refusal::Invalid("agent_id must be 1 to 128 characters".into()),
            Code::InvalidArgument,
            "invalid hello: agent_id must be 1 to 128 characters",
        );
        check(
            Refusal::Unavailable("store".into()),
            Code::Unavailable,
            "collector unavailable: store",
        );
    }
}
