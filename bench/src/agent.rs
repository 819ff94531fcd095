//! One fake agent on the real link (`picket.agent.v1.AgentLink/Connect`):
//! it enrolls with the enrollment token, waits for Welcome and a non-empty
//! Assignment, then streams successful results for its assigned checks in
//! fixed-size batches at a fixed rate and counts the results the collector
//! acknowledges (Acks are cumulative sequence numbers).

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

/// How long enrollment (connect, Welcome, first Assignment) may take.
const ENROLL_TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub tls: Option<picket_tls::Connector>,
    pub token: String,
}

/// An enrolled agent, ready to stream.
pub struct Session {
    tx: mpsc::Sender<pb::AgentMessage>,
    inbound: Streaming<pb::CollectorMessage>,
    checks: Vec<String>,
    next_seq: u64,
}

/// What one agent sent and got acknowledged.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub sent: u64,
    pub acked: u64,
}

/// Connects, enrolls as a new agent and waits for its checks.
pub async fn enroll(target: &Target, index: usize) -> anyhow::Result<Session> {
    tokio::time::timeout(ENROLL_TIMEOUT, enroll_inner(target, index))
        .await
        .context("enrollment timed out")?
}

async fn enroll_inner(target: &Target, index: usize) -> anyhow::Result<Session> {
    let endpoint = Endpoint::from_shared(target.url.clone())?.connect_timeout(ENROLL_TIMEOUT);
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
    loop {
        let msg = inbound.message().await?.context("stream closed")?;
        match msg.msg {
            Some(Down::Welcome(w)) => next_seq = Some(w.last_committed_seq + 1),
            Some(Down::Assignment(a)) if !a.checks.is_empty() => {
                let Some(next_seq) = next_seq else {
                    bail!("Assignment before Welcome");
                };
                let checks = a.checks.into_iter().map(|c| c.id).collect();
                return Ok(Session {
                    tx,
                    inbound,
                    checks,
                    next_seq,
                });
            }
            _ => {}
        }
    }
}

/// Streams `batch`-sized batches every `every` until `deadline`, then waits
/// up to `ack_wait` for the last Ack.
pub async fn stream(
    session: Session,
    batch: usize,
    every: Duration,
    deadline: Instant,
    ack_wait: Duration,
) -> anyhow::Result<Tally> {
    let Session {
        tx,
        mut inbound,
        checks,
        mut next_seq,
    } = session;
    let first = next_seq;
    let mut acked_seq = first - 1;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut check = 0;
    while Instant::now() < deadline {
        tokio::select! {
            _ = ticks.tick() => {
                let results = (0..batch)
                    .map(|_| {
                        check = (check + 1) % checks.len();
                        next_seq += 1;
                        result(next_seq - 1, &checks[check])
                    })
                    .collect();
                let msg = up(Up::Results(pb::ResultBatch { results }));
                tx.send(msg).await.context("link closed while sending")?;
            }
            msg = inbound.message() => acked_seq = acked_seq.max(ack(msg)?),
        }
    }
    let last = next_seq - 1;
    let waited = tokio::time::timeout(ack_wait, async {
        while acked_seq < last {
            acked_seq = acked_seq.max(ack(inbound.message().await)?);
        }
        anyhow::Ok(())
    })
    .await;
    if let Ok(result) = waited {
        result?;
    }
    drop(tx);
    Ok(Tally {
        sent: last + 1 - first,
        acked: acked_seq + 1 - first,
    })
}

/// The sequence number an Ack confirms, or 0 for any other message.
fn ack(msg: Result<Option<pb::CollectorMessage>, tonic::Status>) -> anyhow::Result<u64> {
    match msg.context("link failed")?.context("stream closed")?.msg {
        Some(Down::Ack(a)) => Ok(a.seq),
        _ => Ok(0),
    }
}

fn up(msg: Up) -> pb::AgentMessage {
    pb::AgentMessage { msg: Some(msg) }
}

/// A successful probe of `check`, with plausible phase timings.
fn result(seq: u64, check: &str) -> pb::ProbeResult {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
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
