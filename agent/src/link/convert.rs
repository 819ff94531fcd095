//! Proto ↔ agent domain: the only agent file that names generated types.
//!
//! [`connect`] opens the `AgentLink.Connect` stream and wraps both halves,
//! so the link actor sends [`Uplink`]s and reads [`Downlink`]s. Incoming
//! messages are checked here; a bad field becomes a [`ConvertError`] naming
//! it. Unset proto3 numbers take the product's defaults (timeout 10 s,
//! interval 60 s, body bound 1 MiB, 10 redirects).

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use pb::agent_link_client::AgentLinkClient;
use pb::agent_message::Msg as Up;
use pb::collector_message::Msg as Down;
use picket_proto::agent::v1 as pb;
use picket_proto::contract::{PROTOCOL_VERSION, limits};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::Channel;

use crate::domain::{
    self, AssignmentPart, BasicAuth, Check, CheckId, Downlink, ErrorKind, Hello, Method, PartKind,
    Uplink, Welcome,
};
use crate::outbox::Sequenced;

/// Redirects followed when the collector leaves `max_redirects` at 0.
const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// A message field the agent cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConvertError {
    /// Which field (e.g. `check[shop].method`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> ConvertError {
    ConvertError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The collector's messages, converted one by one: the outer error is the
/// stream's, the inner one a message the agent cannot use.
pub type Inbound =
    Pin<Box<dyn Stream<Item = Result<Result<Downlink, ConvertError>, tonic::Status>> + Send>>;

/// Opens the stream on `channel`: what arrives on `outbound` goes up (the
/// Hello first), and the collector's answers come back as [`Inbound`].
pub async fn connect(
    channel: Channel,
    outbound: mpsc::Receiver<Uplink>,
) -> Result<Inbound, tonic::Status> {
    let up = ReceiverStream::new(outbound).map(uplink);
    let limit = picket_proto::contract::limits::MAX_LINK_MESSAGE_BYTES;
    let inbound = AgentLinkClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit)
        .connect(up)
        .await?
        .into_inner();
    Ok(Box::pin(inbound.map(|m| m.map(downlink))))
}

/// The request stream's item for `msg`.
pub fn uplink(msg: Uplink) -> pb::AgentMessage {
    let msg = match msg {
        Uplink::Hello(h) => Up::Hello(hello(h)),
        Uplink::Results(batch) => Up::Results(pb::ResultBatch {
            results: batch.iter().map(result).collect(),
        }),
        Uplink::Heartbeat { time, stats } => Up::Heartbeat(pb::Heartbeat {
            time_ms: epoch_ms(time),
            stats: Some(stats.into()),
        }),
    };
    pb::AgentMessage { msg: Some(msg) }
}

fn hello(h: Hello) -> pb::Hello {
    pb::Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_id: h.agent_id.into(),
        credential: h.credential,
        enrollment_token: h.enrollment_token,
        name: h.name,
        region: h.region,
        labels: h.labels.into_iter().collect(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        assignment_digest: h.assignment_digest,
    }
}

fn result(item: &Sequenced) -> pb::ProbeResult {
    let r = &item.report;
    let us =
        |d: Option<Duration>| d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let (kind, detail) = match &r.failure {
        Some(f) => (
            error_kind(f.kind),
            limits::cut_error_detail(f.detail.clone()),
        ),
        None => (pb::ErrorKind::Unspecified, String::new()),
    };
    pb::ProbeResult {
        seq: item.seq,
        check_id: r.check_id.to_string(),
        round_id: r.round_id,
        started_at_ms: epoch_ms(r.started_at),
        duration_us: us(Some(r.duration)),
        ok: r.ok(),
        status_code: u32::from(r.status_code),
        error_kind: kind as i32,
        error_detail: detail,
        dns_us: us(r.phases.dns),
        connect_us: us(r.phases.connect),
        tls_us: us(r.phases.tls),
        first_byte_us: us(r.phases.first_byte),
        transfer_us: us(r.phases.transfer),
        cert_not_after_ms: r.cert_not_after.map_or(0, epoch_ms),
    }
}

fn error_kind(kind: ErrorKind) -> pb::ErrorKind {
    match kind {
        ErrorKind::HttpStatus => pb::ErrorKind::HttpStatus,
        ErrorKind::Timeout => pb::ErrorKind::Timeout,
        ErrorKind::Dns => pb::ErrorKind::Dns,
        ErrorKind::Connect => pb::ErrorKind::Connect,
        ErrorKind::Tls => pb::ErrorKind::Tls,
        ErrorKind::Protocol => pb::ErrorKind::Protocol,
        ErrorKind::BodyMismatch => pb::ErrorKind::BodyMismatch,
    }
}

fn epoch_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Converts a collector message. An Assignment keeps its valid checks and
/// lists the refused ones in `rejected`.
pub fn downlink(msg: pb::CollectorMessage) -> Result<Downlink, ConvertError> {
    match msg.msg {
        None => Err(bad("msg", "empty collector message")),
        Some(Down::Welcome(w)) => Ok(Downlink::Welcome(Welcome {
            agent_id: w.agent_id.into(),
            credential: Some(w.credential).filter(|c| !c.is_empty()),
            state: w.state,
            heartbeat_interval: match w.heartbeat_interval_ms {
                0 => domain::DEFAULT_HEARTBEAT_INTERVAL,
                ms => Duration::from_millis(ms),
            },
            last_committed_seq: w.last_committed_seq,
        })),
        Some(Down::Assignment(a)) => assignment(a).map(Downlink::Assignment),
        Some(Down::Recheck(r)) => {
            if r.check_id.is_empty() {
                return Err(bad("recheck.check_id", "empty"));
            }
            Ok(Downlink::Recheck {
                check_id: r.check_id.into(),
                round_id: r.round_id,
            })
        }
        Some(Down::Ack(a)) => Ok(Downlink::Ack { seq: a.seq }),
    }
}

/// An assignment part; a refused check is listed in `rejected` and its id
/// in `removed`, so a changed check the agent cannot run stops. An unknown
/// kind is an error on `assignment.kind`.
fn assignment(a: pb::Assignment) -> Result<AssignmentPart, ConvertError> {
    let kind = match pb::AssignmentKind::try_from(a.kind) {
        Ok(pb::AssignmentKind::Full) => PartKind::Full,
        Ok(pb::AssignmentKind::Delta) => PartKind::Delta {
            base: a.base_generation,
        },
        Ok(pb::AssignmentKind::Unchanged) => PartKind::Unchanged,
        _ => return Err(bad(ASSIGNMENT_KIND, format!("unknown kind {}", a.kind))),
    };
    let mut checks = Vec::with_capacity(a.checks.len());
    let mut removed: Vec<CheckId> = a.removed.into_iter().map(CheckId::from).collect();
    let mut rejected = Vec::new();
    for c in a.checks {
        let id = c.id.clone();
        match Check::try_from(c) {
            Ok(c) => checks.push(c),
            Err(e) => {
                rejected.push(e.to_string());
                removed.push(id.into());
            }
        }
    }
    Ok(AssignmentPart {
        generation: a.generation,
        kind,
        checks,
        removed,
        rejected,
        last: a.last,
        digest: a.digest,
    })
}

/// The field named when an assignment part is unusable; the link ends the
/// session on it (a set missing a part must not be applied).
pub const ASSIGNMENT_KIND: &str = "assignment.kind";

impl TryFrom<pb::Check> for Check {
    type Error = ConvertError;

    fn try_from(c: pb::Check) -> Result<Check, ConvertError> {
        if c.id.is_empty() {
            return Err(bad("check.id", "empty"));
        }
        let field = |name: &str| format!("check[{}].{name}", c.id);
        match reqwest::Url::parse(&c.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => {
                return Err(bad(
                    field("url"),
                    format!("unsupported scheme {:?}", u.scheme()),
                ));
            }
            Err(e) => return Err(bad(field("url"), format!("{:?}: {e}", c.url))),
        }
        let method = match c.method.to_ascii_uppercase().as_str() {
            "" | "GET" => Method::Get,
            "HEAD" => Method::Head,
            other => {
                return Err(bad(
                    field("method"),
                    format!("{other:?} is not GET or HEAD"),
                ));
            }
        };
        let expected_status = if c.expected_status.is_empty() {
            vec![200]
        } else {
            c.expected_status
                .iter()
                .map(|&s| {
                    u16::try_from(s)
                        .ok()
                        .filter(|s| (100..=999).contains(s))
                        .ok_or_else(|| {
                            bad(
                                field("expected_status"),
                                format!("{s} is not an HTTP status"),
                            )
                        })
                })
                .collect::<Result<Vec<u16>, _>>()?
        };
        let interval = match c.interval_ms {
            0 => domain::DEFAULT_INTERVAL,
            ms => Duration::from_millis(ms),
        };
        if interval < domain::MIN_INTERVAL {
            return Err(bad(
                field("interval_ms"),
                format!("{} is below 1000", c.interval_ms),
            ));
        }
        let basic_auth = c
            .basic_auth
            .filter(|a| !a.user.is_empty() || !a.password.is_empty())
            .map(|a| BasicAuth {
                user: a.user,
                password: a.password,
            });
        Ok(Check {
            method,
            expected_status,
            interval,
            basic_auth,
            timeout: match c.timeout_ms {
                0 => domain::DEFAULT_TIMEOUT,
                ms => Duration::from_millis(ms),
            },
            max_body_bytes: match c.max_body_bytes {
                0 => domain::DEFAULT_MAX_BODY_BYTES,
                n => n,
            },
            max_redirects: match c.max_redirects {
                0 => DEFAULT_MAX_REDIRECTS,
                n => n,
            },
            headers: c.headers.into_iter().collect(),
            id: c.id.into(),
            url: c.url,
            body_contains: c.body_contains,
            follow_redirects: c.follow_redirects,
            reuse_connections: c.reuse_connections,
        })
    }
}

#[cfg(test)]
mod tests;
