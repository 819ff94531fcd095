//! Hostile input for the agent link, sent raw: results with any seq and
//! check, oversized messages, Hellos with absurd fields, messages before a
//! Hello, silence; and the collector's `/metrics`, where each refusal is
//! counted (`picket_link_rejected_total{reason}`).
//!
//! **Boundary**: like [`ScriptedAgent`], a client of the wire protocol; the
//! scenarios see [`HelloFields`], [`Outcome`] and [`Refused`] only.

use std::net::SocketAddr;

use picket_proto::agent::v1 as pb;
use picket_proto::agent::v1::agent_link_client::AgentLinkClient;
use picket_proto::contract::PROTOCOL_VERSION;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use super::realtime::within;
use super::{Outcome, Refused, ScriptedAgent, WAIT};
use crate::ENROLLMENT_TOKEN;

/// The Hello fields a test can make absurd; valid as made by [`new`](Self::new).
#[derive(Debug, Clone)]
pub struct HelloFields {
    pub agent_id: String,
    pub name: String,
    pub region: String,
    pub labels: Vec<(String, String)>,
}

impl HelloFields {
    pub fn new(name: &str) -> HelloFields {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        HelloFields {
            agent_id: format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
            name: name.into(),
            region: "eu".into(),
            labels: Vec::new(),
        }
    }

    fn message(self) -> pb::AgentMessage {
        pb::AgentMessage {
            msg: Some(pb::agent_message::Msg::Hello(pb::Hello {
                protocol_version: PROTOCOL_VERSION,
                agent_id: self.agent_id,
                credential: String::new(),
                enrollment_token: ENROLLMENT_TOKEN.into(),
                name: self.name,
                region: self.region,
                labels: self.labels.into_iter().collect(),
                version: "hostile".into(),
                assignment_digest: 0,
            })),
        }
    }
}

/// Opens a stream, sends `messages` and returns the collector's refusal;
/// an error if it welcomes the stream instead.
async fn refusal(grpc: SocketAddr, messages: Vec<pb::AgentMessage>) -> anyhow::Result<Refused> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))?
        .connect()
        .await?;
    let (up, rx) = mpsc::channel(messages.len().max(1));
    for m in messages {
        up.send(m).await?;
    }
    let refused = |s: tonic::Status| Refused {
        code: s.code(),
        message: s.message().into(),
    };
    // `up` lives until the answer: the stream stays open, as a slow agent's.
    let answer = AgentLinkClient::new(channel)
        .connect(ReceiverStream::new(rx))
        .await;
    drop(up);
    let mut stream = match answer {
        Err(status) => return Ok(refused(status)),
        Ok(response) => response.into_inner(),
    };
    match within(WAIT, "the collector's answer", stream.next()).await? {
        Some(Err(status)) => Ok(refused(status)),
        other => anyhow::bail!("the collector did not refuse the stream: {other:?}"),
    }
}

/// Says hello with `fields`; the collector's refusal.
pub async fn hello_refused(grpc: SocketAddr, fields: HelloFields) -> anyhow::Result<Refused> {
    refusal(grpc, vec![fields.message()]).await
}

/// Sends `count` heartbeats and then a valid Hello; the collector's refusal.
pub async fn flood_before_hello(grpc: SocketAddr, count: usize) -> anyhow::Result<Refused> {
    let beat = pb::AgentMessage {
        msg: Some(pb::agent_message::Msg::Heartbeat(pb::Heartbeat::default())),
    };
    let mut messages = vec![beat; count];
    messages.push(HelloFields::new("flood").message());
    refusal(grpc, messages).await
}

/// Opens a stream and says nothing; the collector's refusal (the paused
/// clock must move past the hello timeout meanwhile).
pub async fn silent(grpc: SocketAddr) -> anyhow::Result<Refused> {
    refusal(grpc, Vec::new()).await
}

impl ScriptedAgent {
    /// The seq the next [`report`](Self::report) will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Sends one result with exactly this seq and check; no ack awaited.
    pub async fn send_seq(
        &mut self,
        seq: u64,
        service: &str,
        outcome: &Outcome,
    ) -> anyhow::Result<()> {
        self.push(vec![outcome.result(seq, service, 0)]).await
    }

    /// Sends a result with the next seq; no ack awaited. Returns the seq.
    pub async fn send_next(&mut self, service: &str, outcome: &Outcome) -> anyhow::Result<u64> {
        self.send(service, 0, outcome).await
    }

    /// Sends a message of more than `bytes` bytes: one result whose detail
    /// is that long.
    pub async fn send_oversized(&mut self, service: &str, bytes: usize) -> anyhow::Result<()> {
        let mut result = Outcome::refused().result(self.next_seq, service, 0);
        result.error_detail = "x".repeat(bytes);
        self.push(vec![result]).await
    }
}

/// How many times the link refused or dropped something for `reason`.
pub async fn rejected(h: &super::Harness, reason: &str) -> anyhow::Result<u64> {
    let line = format!("picket_link_rejected_total{{reason=\"{reason}\"}} ");
    Ok(h.metrics()
        .await?
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}
