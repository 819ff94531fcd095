//! [`ScriptedAgent`]: an agent the test drives by hand over the real
//! `picket.agent.v1.AgentLink` protocol.
//!
//! It says hello, then sends exactly the results and heartbeats the test
//! asks for, and records every downlink message (assignments, recheck
//! orders, acks) so the test can wait for one. It probes nothing: the
//! outcome of each probe is the test's to choose, which is what makes the
//! lifecycle, quorum and dead-man's-switch scenarios exact.
//!
//! **Boundary**: this is a client of the wire protocol, so it names the
//! generated types; scenarios see only [`Outcome`], [`Order`] and ids.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use picket_proto::agent::v1 as pb;
use picket_proto::agent::v1::agent_link_client::AgentLinkClient;
use picket_proto::contract::PROTOCOL_VERSION;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use super::assembly::{Assembly, Update};
use super::outcome::now_ms;
pub use super::outcome::{Outcome, Phases};
use super::realtime::within;
use crate::ENROLLMENT_TOKEN;

/// A recheck order received from the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub service: String,
    pub round_id: u64,
}

/// What the collector sent, in the scripted agent's words.
#[derive(Debug, Clone, PartialEq)]
enum Down {
    /// The set after a full set or a delta completed.
    Assignment(Vec<String>),
    /// Every completed update (before its `Assignment`).
    Update(Update),
    Recheck(Order),
    Ack(u64),
    /// The stream ended, with the collector's status if any.
    Closed(Refused),
}

/// Who the agent is; kept to reconnect with the issued credential.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub region: String,
    pub credential: String,
}

/// A connected scripted agent (disconnects when dropped).
#[derive(Debug)]
pub struct ScriptedAgent {
    identity: Identity,
    /// The agent's uplink; dropping it ends the stream.
    up: mpsc::Sender<pb::AgentMessage>,
    /// Downlink messages as they arrive, read by a task.
    down: mpsc::UnboundedReceiver<Down>,
    /// Messages read but not yet taken by a wait.
    unread: VecDeque<Down>,
    pub(super) next_seq: u64,
    /// The welcome's `last_committed_seq`.
    pub last_committed: u64,
    /// The state the collector gave in its welcome (`new`, `active`, ...).
    pub state: String,
}

/// Why a connection was refused: the gRPC code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub code: tonic::Code,
    pub message: String,
}

impl Refused {
    /// An end without a status from the collector.
    fn other(message: String) -> Refused {
        Refused {
            code: tonic::Code::Unknown,
            message,
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

/// How long a scripted agent waits (in real time) for a downlink message.
const WAIT: Duration = Duration::from_secs(20);

impl ScriptedAgent {
    /// Enrolls a new agent with the test enrollment token.
    pub async fn enroll(grpc: SocketAddr, name: &str, region: &str) -> anyhow::Result<Self> {
        let identity = Identity {
            id: format!("{name}-{}", uuid_like()),
            name: name.into(),
            region: region.into(),
            credential: String::new(),
        };
        match Self::connect(grpc, identity, ENROLLMENT_TOKEN).await? {
            Ok(agent) => Ok(agent),
            Err(refused) => anyhow::bail!("agent {name} was refused: {refused}"),
        }
    }

    /// Connects as `identity` (its credential, or `token` when it has none);
    /// `Ok(Err(_))` when the collector refuses.
    pub async fn connect(
        grpc: SocketAddr,
        identity: Identity,
        token: &str,
    ) -> anyhow::Result<Result<Self, Refused>> {
        let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))?
            .connect()
            .await?;
        Self::connect_on(channel, identity, token).await
    }

    /// [`ScriptedAgent::connect`] over `channel` (e.g. [`super::net::channel_from`]).
    pub async fn connect_on(
        channel: tonic::transport::Channel,
        identity: Identity,
        token: &str,
    ) -> anyhow::Result<Result<Self, Refused>> {
        Self::connect_with_digest(channel, identity, token, 0).await
    }

    /// [`ScriptedAgent::connect_on`], the Hello claiming the assignment
    /// `digest` (an [`Update::digest`] of an earlier session).
    pub async fn connect_with_digest(
        channel: tonic::transport::Channel,
        mut identity: Identity,
        token: &str,
        digest: u64,
    ) -> anyhow::Result<Result<Self, Refused>> {
        // The contract's decoding limit, as the real agent's; no encoding
        // limit, so that a hostile scenario can send an oversized message.
        let limit = picket_proto::contract::limits::MAX_LINK_MESSAGE_BYTES;
        let mut client = AgentLinkClient::new(channel).max_decoding_message_size(limit);
        let (up, rx) = mpsc::channel(64);
        let hello = pb::Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_id: identity.id.clone(),
            credential: identity.credential.clone(),
            enrollment_token: token.into(),
            name: identity.name.clone(),
            region: identity.region.clone(),
            labels: Default::default(),
            version: "scripted".into(),
            assignment_digest: digest,
        };
        up.send(pb::AgentMessage {
            msg: Some(pb::agent_message::Msg::Hello(hello)),
        })
        .await?;
        let mut stream = match client.connect(ReceiverStream::new(rx)).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                return Ok(Err(Refused {
                    code: status.code(),
                    message: status.message().into(),
                }));
            }
        };
        let welcome = match within(WAIT, "a welcome", stream.next()).await? {
            Some(Ok(pb::CollectorMessage {
                msg: Some(pb::collector_message::Msg::Welcome(w)),
            })) => w,
            Some(Err(status)) => {
                return Ok(Err(Refused {
                    code: status.code(),
                    message: status.message().into(),
                }));
            }
            other => anyhow::bail!("expected a welcome, got {other:?}"),
        };
        if !welcome.credential.is_empty() {
            identity.credential = welcome.credential.clone();
        }
        let (tx, down) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut assembly = Assembly::default();
            while let Some(msg) = stream.next().await {
                let down = match msg {
                    Ok(msg) => match msg.msg {
                        Some(pb::collector_message::Msg::Assignment(a)) => match assembly.take(a) {
                            Ok(None) => continue,
                            Ok(Some((update, ids))) => {
                                let kept = update.kind == "unchanged";
                                if tx.send(Down::Update(update)).is_err() || kept {
                                    continue;
                                }
                                Down::Assignment(ids)
                            }
                            Err(e) => Down::Closed(Refused::other(e)),
                        },
                        Some(pb::collector_message::Msg::Recheck(r)) => Down::Recheck(Order {
                            service: r.check_id,
                            round_id: r.round_id,
                        }),
                        Some(pb::collector_message::Msg::Ack(a)) => Down::Ack(a.seq),
                        other => Down::Closed(Refused::other(format!("unexpected {other:?}"))),
                    },
                    Err(status) => Down::Closed(Refused {
                        code: status.code(),
                        message: status.message().into(),
                    }),
                };
                let closed = matches!(down, Down::Closed(_));
                if tx.send(down).is_err() || closed {
                    return;
                }
            }
            let _ = tx.send(Down::Closed(Refused::other("stream ended".into())));
        });
        Ok(Ok(ScriptedAgent {
            identity,
            up,
            down,
            unread: VecDeque::new(),
            next_seq: welcome.last_committed_seq + 1,
            last_committed: welcome.last_committed_seq,
            state: welcome.state,
        }))
    }

    /// Who this agent is (to reconnect it later, or to refer to it).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn id(&self) -> &str {
        &self.identity.id
    }

    /// Waits for the first unread downlink message `pick` accepts and takes
    /// it; other messages stay unread.
    async fn take<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&Down) -> Option<T>,
    ) -> anyhow::Result<T> {
        if let Some(i) = self.unread.iter().position(|d| pick(d).is_some()) {
            let d = self.unread.remove(i).expect("position is in range");
            return Ok(pick(&d).expect("picked above"));
        }
        let what = format!("{what} for agent {}", self.identity.name);
        let down = &mut self.down;
        let unread = &mut self.unread;
        within(WAIT, &what, async {
            loop {
                let Some(d) = down.recv().await else {
                    anyhow::bail!("the downlink reader stopped");
                };
                if let Some(t) = pick(&d) {
                    return Ok(t);
                }
                if let Down::Closed(refused) = &d {
                    anyhow::bail!("the collector closed the stream: {refused}");
                }
                unread.push_back(d);
            }
        })
        .await?
    }

    /// The next assignment: the ids of the checks the agent must run.
    pub async fn assignment(&mut self) -> anyhow::Result<Vec<String>> {
        self.take("an assignment", |d| match d {
            Down::Assignment(ids) => Some(ids.clone()),
            _ => None,
        })
        .await
    }

    /// The next completed assignment update, as it came on the wire.
    pub async fn update(&mut self) -> anyhow::Result<Update> {
        self.take("an assignment update", |d| match d {
            Down::Update(u) => Some(u.clone()),
            _ => None,
        })
        .await
    }

    /// The next recheck order.
    pub async fn order(&mut self) -> anyhow::Result<Order> {
        self.take("a recheck order", |d| match d {
            Down::Recheck(o) => Some(o.clone()),
            _ => None,
        })
        .await
    }

    /// Waits until every result up to `seq` is acknowledged.
    pub async fn acked(&mut self, seq: u64) -> anyhow::Result<()> {
        self.take(&format!("an ack of seq {seq}"), |d| match d {
            Down::Ack(s) if *s >= seq => Some(()),
            _ => None,
        })
        .await
    }

    /// Waits until the collector ends the stream; returns its status.
    pub async fn closed(&mut self) -> anyhow::Result<Refused> {
        self.take("the end of the stream", |d| match d {
            Down::Closed(refused) => Some(refused.clone()),
            _ => None,
        })
        .await
    }

    /// The assignments received and not yet taken, oldest first (never
    /// blocks): after a later message (an ack) arrived, what was sent
    /// before it.
    pub fn unread_assignments(&mut self) -> Vec<Vec<String>> {
        while let Ok(d) = self.down.try_recv() {
            self.unread.push_back(d);
        }
        self.unread
            .iter()
            .filter_map(|d| match d {
                Down::Assignment(ids) => Some(ids.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether a recheck order is already waiting, unread (never blocks).
    pub fn has_order(&mut self) -> bool {
        while let Ok(d) = self.down.try_recv() {
            self.unread.push_back(d);
        }
        self.unread.iter().any(|d| matches!(d, Down::Recheck(_)))
    }

    pub(super) async fn send(
        &mut self,
        service: &str,
        round_id: u64,
        outcome: &Outcome,
    ) -> anyhow::Result<u64> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.push(vec![outcome.result(seq, service, round_id)])
            .await?;
        Ok(seq)
    }

    /// Sends one batch of results as they are.
    pub(super) async fn push(&mut self, results: Vec<pb::ProbeResult>) -> anyhow::Result<()> {
        self.up
            .send(pb::AgentMessage {
                msg: Some(pb::agent_message::Msg::Results(pb::ResultBatch { results })),
            })
            .await
            .map_err(|_| anyhow::anyhow!("the stream of agent {} is closed", self.identity.name))
    }

    /// Sends the result of a scheduled probe; waits for its ack, so the
    /// collector has stored it and handed it to the evaluator.
    pub async fn report(&mut self, service: &str, outcome: &Outcome) -> anyhow::Result<()> {
        let seq = self.send(service, 0, outcome).await?;
        self.acked(seq).await
    }

    /// Answers a recheck order; waits for its ack.
    pub async fn answer(&mut self, order: &Order, outcome: &Outcome) -> anyhow::Result<()> {
        let seq = self.send(&order.service, order.round_id, outcome).await?;
        self.acked(seq).await
    }

    /// Sends a heartbeat and returns its number, unique in the process and
    /// sent as the stats' `uptime_s`, so that a test can tell which
    /// heartbeat the collector recorded last.
    pub async fn heartbeat(&mut self) -> anyhow::Result<u64> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        self.up
            .send(pb::AgentMessage {
                msg: Some(pb::agent_message::Msg::Heartbeat(pb::Heartbeat {
                    time_ms: now_ms(),
                    stats: Some(pb::HostStats {
                        agent_version: "scripted".into(),
                        uptime_s: number,
                        ..Default::default()
                    }),
                })),
            })
            .await
            .map_err(|_| anyhow::anyhow!("the stream of agent {} is closed", self.identity.name))?;
        Ok(number)
    }
}

/// A process-unique suffix for agent ids.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
