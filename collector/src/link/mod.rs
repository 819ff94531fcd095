//! The `picket.agent.v1.AgentLink` service: one bidirectional stream per
//! agent.
//!
//! A connection must open with `Hello`; the agents registry authenticates
//! it (and refuses a second live connection with the same id), then a
//! [`session`] task runs the stream until either side ends it. Refusals
//! map to gRPC codes here, once: bad token or credential →
//! `UNAUTHENTICATED`, duplicate id → `ALREADY_EXISTS`, wrong protocol →
//! `FAILED_PRECONDITION`.

pub mod convert;
mod session;

use std::pin::Pin;
use std::time::Duration;

use picket_proto::agent::v1::{self as pb, agent_link_server::AgentLink};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, info_span, warn};

use crate::agents::{AgentsHandle, Refusal};
use crate::ingest::IngestHandle;

/// Downlink messages queued per agent before the session is dropped.
const DOWNLINK_CAPACITY: usize = 1024;
/// How long a new stream may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The gRPC service; one per collector.
#[derive(Clone)]
pub struct AgentLinkService {
    agents: AgentsHandle,
    ingest: IngestHandle,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl AgentLinkService {
    pub fn new(
        agents: AgentsHandle,
        ingest: IngestHandle,
        cancel: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            agents,
            ingest,
            cancel,
            tasks,
        }
    }
}

fn status(refusal: &Refusal) -> Status {
    match refusal {
        Refusal::BadToken | Refusal::BadCredential(_) => {
            Status::unauthenticated(refusal.to_string())
        }
        Refusal::Duplicate(_) => Status::already_exists(refusal.to_string()),
        Refusal::Incompatible(_) => Status::failed_precondition(refusal.to_string()),
        Refusal::Invalid(_) => Status::invalid_argument(refusal.to_string()),
        Refusal::Unavailable(_) => Status::unavailable(refusal.to_string()),
    }
}

type DownStream = Pin<Box<dyn Stream<Item = Result<pb::CollectorMessage, Status>> + Send>>;

#[tonic::async_trait]
impl AgentLink for AgentLinkService {
    type ConnectStream = DownStream;

    async fn connect(
        &self,
        request: Request<Streaming<pb::AgentMessage>>,
    ) -> Result<Response<DownStream>, Status> {
        let peer = request.remote_addr();
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within 10s"))??;
        let Some(pb::AgentMessage {
            msg: Some(pb::agent_message::Msg::Hello(hello)),
        }) = first
        else {
            return Err(Status::invalid_argument(
                "the first message must be a hello",
            ));
        };
        let hello = convert::hello(hello);
        let agent_id = hello.agent_id.clone();
        let (down_tx, down_rx) = mpsc::channel(DOWNLINK_CAPACITY);
        let session_cancel = self.cancel.child_token();
        let welcome = match self
            .agents
            .hello(hello, down_tx.clone(), session_cancel.clone())
            .await
        {
            Ok(w) => w,
            Err(refusal) => {
                warn!(agent_id = %agent_id, peer = ?peer, reason = %refusal, "agent refused");
                return Err(status(&refusal));
            }
        };
        let (out_tx, out_rx) = mpsc::channel(64);
        // The welcome goes first; the session forwards the rest.
        out_tx
            .send(Ok(convert::welcome(&welcome)))
            .await
            .map_err(|_| Status::cancelled("agent went away"))?;
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
        };
        self.tasks
            .spawn(session.run(session_cancel).instrument(span));
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}
