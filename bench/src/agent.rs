//! One fake agent on the real link (`picket.agent.v1.AgentLink/Connect`):
//! it enrolls with the enrollment token, waits for Welcome and its whole
//! first (non-empty) Assignment, then streams successful results for its assigned checks in
//! fixed-size batches, at a fixed rate or saturated (a window of
//! unacknowledged batches in flight), and counts the results the collector
//! acknowledges and how long each batch waited for its Ack (Acks are
//! cumulative sequence numbers). Like a real agent, it sends a Heartbeat
//! every `heartbeat_interval_ms` of its Welcome from then on, so the
//! collector's dead-man's switch does not take it for dead while a large
//! assignment is still being computed or sent.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use picket_proto::agent::v1 as pb;
use picket_proto::agent::v1::agent_link_client::AgentLinkClient;
use picket_proto::agent::v1::agent_message::Msg as Up;
use picket_proto::agent::v1::collector_message::Msg as Down;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tonic::transport::{Channel, Endpoint};

/// How long enrollment (connect, Welcome, first Assignment) may take
/// unless `Target::enroll_timeout` says otherwise.
pub const ENROLL_TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub tls: Option<picket_tls::Connector>,
    pub token: String,
    /// How long enrollment (connect, Welcome, first Assignment) may take.
    pub enroll_timeout: Duration,
}

/// An enrolled agent, ready to stream.
pub struct Session {
    tx: mpsc::Sender<pb::AgentMessage>,
    inbound: Streaming<pb::CollectorMessage>,
    checks: Vec<String>,
    next_seq: u64,
    /// Sends the Heartbeats; aborted when the session ends.
    heartbeats: tokio::task::JoinHandle<()>,
}

/// What one agent sent and got acknowledged, and how long each batch
/// waited for the Ack that covered its last seq.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: u64,
    pub acked: u64,
    /// Per acknowledged batch, in µs.
    pub ack_latency_us: Vec<u64>,
}

/// How an agent paces its batches.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// One batch every period.
    Every(Duration),
    /// Saturated: as fast as the collector acks, with at most this many
    /// unacknowledged batches in flight.
    Window(usize),
}

/// Connects, enrolls as a new agent and waits for its checks.
pub async fn enroll(target: &Target, index: usize) -> anyhow::Result<Session> {
    tokio::time::timeout(target.enroll_timeout, enroll_inner(target, index))
        .await
        .context("enrollment timed out")?
}

async fn enroll_inner(target: &Target, index: usize) -> anyhow::Result<Session> {
    let endpoint =
        Endpoint::from_shared(target.url.clone())?.connect_timeout(target.enroll_timeout);
    let channel: Channel = match &target.tls {
        Some(connector) => endpoint.connect_with_connector(connector.clone()).await,
        None => endpoint.connect().await,
    }
    .with_context(|| format!("failed to connect to {}", target.url))?;
    let (tx, rx) = mpsc::channel(4);
    let hello = pb::Hello {
        protocol_version: picket_proto::contract::PROTOCOL_VERSION,
        agent_id: uuid::Uuid::new_v4().to_string(),
        enrollment_token: target.token.clone(),
        name: format!("loadgen-{index}"),
        region: "bench".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    tx.send(up(Up::Hello(hello))).await?;
    let limit = picket_proto::contract::limits::MAX_LINK_MESSAGE_BYTES;
    let mut inbound = AgentLinkClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit)
        .connect(ReceiverStream::new(rx))
        .await
        .context("Connect refused")?
        .into_inner();
    let mut next_seq = None;
    let mut heartbeats = None;
    let mut checks = Vec::new();
    loop {
        let msg = inbound.message().await?.context("stream closed")?;
        match msg.msg {
            Some(Down::Welcome(w)) => {
                next_seq = Some(w.last_committed_seq + 1);
                let every = Duration::from_millis(w.heartbeat_interval_ms.max(100));
                if let Some(old) = heartbeats.replace(tokio::spawn(beat(tx.clone(), every))) {
                    old.abort();
                }
            }
            Some(Down::Assignment(a)) => {
                // The whole first set, up to its last part: a session left
                // unread with parts still coming would hold the collector's
                // side of the link (and the heartbeats behind it).
                checks.extend(a.checks.into_iter().map(|c| c.id));
                if !a.last || checks.is_empty() {
                    continue;
                }
                let Some(next_seq) = next_seq else {
                    bail!("Assignment before Welcome");
                };
                let Some(heartbeats) = heartbeats else {
                    bail!("Assignment before Welcome");
                };
                return Ok(Session {
                    tx,
                    inbound,
                    checks,
                    next_seq,
                    heartbeats,
                });
            }
            _ => {}
        }
    }
}

/// Streams `batch`-sized batches at `pace` until `deadline`, then waits
/// up to `ack_wait` for the last Ack.
pub async fn stream(
    session: Session,
    batch: usize,
    pace: Pace,
    deadline: Instant,
    ack_wait: Duration,
) -> anyhow::Result<Tally> {
    let Session {
        tx,
        mut inbound,
        checks,
        mut next_seq,
        heartbeats,
    } = session;
    let first = next_seq;
    let mut acks = Acks {
        seq: first - 1,
        pending: VecDeque::new(),
        latency_us: Vec::new(),
    };
    let (period, window) = match pace {
        Pace::Every(every) => (every, usize::MAX),
        // Never ticks before the deadline: the window alone paces.
        Pace::Window(window) => (Duration::from_secs(86_400 * 365), window),
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let saturated = matches!(pace, Pace::Window(_));
    let mut check = 0;
    loop {
        let room = acks.pending.len() < window;
        tokio::select! {
            biased;
            msg = inbound.message() => {
                acks.update(ack(msg)?);
                continue;
            }
            () = tokio::time::sleep_until(deadline) => break,
            _ = ticks.tick(), if room && !saturated => {}
            () = std::future::ready(()), if room && saturated => {}
        }
        let results = (0..batch)
            .map(|_| {
                check = (check + 1) % checks.len();
                next_seq += 1;
                result(next_seq - 1, &checks[check])
            })
            .collect();
        acks.pending.push_back((next_seq - 1, Instant::now()));
        let msg = up(Up::Results(pb::ResultBatch { results }));
        tx.send(msg).await.context("link closed while sending")?;
    }
    let last = next_seq - 1;
    let waited = tokio::time::timeout(ack_wait, async {
        while acks.seq < last {
            acks.update(ack(inbound.message().await)?);
        }
        anyhow::Ok(())
    })
    .await;
    if let Ok(result) = waited {
        result?;
    }
    heartbeats.abort();
    drop(tx);
    Ok(Tally {
        sent: last + 1 - first,
        acked: acks.seq + 1 - first,
        ack_latency_us: acks.latency_us,
    })
}

/// The highest acknowledged seq and the batches still waiting for theirs.
struct Acks {
    seq: u64,
    /// (last seq of a batch, when it was sent), oldest first.
    pending: VecDeque<(u64, Instant)>,
    latency_us: Vec<u64>,
}

impl Acks {
    /// Takes a cumulative Ack (0: not an Ack): every batch it covers is done.
    fn update(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
        let now = Instant::now();
        while let Some(&(last, sent)) = self.pending.front() {
            if last > self.seq {
                break;
            }
            self.latency_us
                .push(now.duration_since(sent).as_micros() as u64);
            self.pending.pop_front();
        }
    }
}

/// The sequence number an Ack confirms, or 0 for any other message.
fn ack(msg: Result<Option<pb::CollectorMessage>, tonic::Status>) -> anyhow::Result<u64> {
    match msg.context("link failed")?.context("stream closed")?.msg {
        Some(Down::Ack(a)) => Ok(a.seq),
        _ => Ok(0),
    }
}

/// Sends a Heartbeat every `every` until the link closes.
async fn beat(tx: mpsc::Sender<pb::AgentMessage>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let heartbeat = pb::Heartbeat {
            time_ms: unix_ms(),
            stats: None,
        };
        if tx.send(up(Up::Heartbeat(heartbeat))).await.is_err() {
            return;
        }
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn up(msg: Up) -> pb::AgentMessage {
    pb::AgentMessage { msg: Some(msg) }
}

/// A successful probe of `check`, with plausible phase timings.
fn result(seq: u64, check: &str) -> pb::ProbeResult {
    let now_ms = unix_ms();
    pb::ProbeResult {
        seq,
        check_id: check.to_owned(),
        round_id: 0,
        started_at_ms: now_ms - 12,
        duration_us: 11_800,
        ok: true,
        status_code: 200,
        error_kind: pb::ErrorKind::Unspecified as i32,
        error_detail: String::new(),
        dns_us: 400,
        connect_us: 1_100,
        tls_us: 4_300,
        first_byte_us: 5_200,
        transfer_us: 300,
        cert_not_after_ms: now_ms + 60 * 86_400_000,
    }
}
