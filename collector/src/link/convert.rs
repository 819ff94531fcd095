//! Agent proto ↔ domain: with the `AgentLink` trait impl, the only
//! collector code that names `picket.agent.v1` types. Incoming messages are
//! checked here and a bad field is a typed error naming it. A phase or a
//! certificate expiry that cannot be true (a phase longer than its probe or
//! than a day, an expiry outside 1970..=9999) is dropped as "not measured"
//! and its result kept: it does not change the verdict.
//!
//! [`uplinks`] and [`downlinks`] wrap the two halves of a gRPC stream so the
//! session reads [`Uplink`]s and writes [`Downlink`]s.

use std::pin::Pin;

use picket_proto::agent::v1 as pb;
use picket_proto::contract::limits::{self, FieldError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Status, Streaming};

use crate::agents::Welcome;
use crate::domain::{
    AssignmentKind, AssignmentPart, CheckSpec, Downlink, ErrorKind, Hello, HostStats, Phases,
    ProbeOutcome, ProbeResult, Uplink,
};

/// The response stream of `AgentLink.Connect`.
pub type DownStream = Pin<Box<dyn Stream<Item = Result<pb::CollectorMessage, Status>> + Send>>;

/// An agent's messages, converted.
pub type UplinkStream = Pin<Box<dyn Stream<Item = Result<Uplink, UplinkError>> + Send>>;

/// Why an agent's stream did not yield a message.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The stream itself failed (reset, cancelled, bad frame).
    #[error("stream error: {}", .0.message())]
    Stream(Status),
    /// A message was over the size limit (tonic's decoder refused it with
    /// `OUT_OF_RANGE`, the only code it refuses a size with).
    #[error("message over the size limit ({})", .0.message())]
    TooLarge(Status),
    /// A message arrived that cannot be used.
    #[error(transparent)]
    Malformed(#[from] ConvertError),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConvertError {
    #[error("empty message")]
    EmptyMessage,
    #[error("invalid hello: {0}")]
    Hello(FieldError),
    #[error("result seq must be at least 1")]
    ZeroSeq,
    #[error("result seq {0} is over the largest, {max}", max = limits::MAX_SEQ)]
    SeqTooLarge(u64),
    #[error("result {seq}: check_id is empty")]
    NoCheck { seq: u64 },
    #[error("result {seq}: check_id is {len} bytes, at most {max}", max = limits::MAX_ID_BYTES)]
    LongCheck { seq: u64, len: usize },
    #[error("result {seq}: a failure needs an error_kind")]
    NoErrorKind { seq: u64 },
    #[error("result {seq}: unknown error_kind {value}")]
    BadErrorKind { seq: u64, value: i32 },
    #[error("result {seq}: status_code {value} is not an HTTP status")]
    BadStatus { seq: u64, value: u32 },
}

/// Converts one agent message. Results that fail conversion are listed in
/// `Uplink::Results::rejected`, not returned as an error.
pub fn uplink(m: pb::AgentMessage) -> Result<Uplink, ConvertError> {
    use pb::agent_message::Msg;
    Ok(match m.msg.ok_or(ConvertError::EmptyMessage)? {
        Msg::Hello(h) => Uplink::Hello(hello(h).map_err(ConvertError::Hello)?),
        Msg::Results(batch) => {
            let mut results = Vec::with_capacity(batch.results.len());
            let mut rejected = Vec::new();
            for r in batch.results {
                match ProbeResult::try_from(r) {
                    Ok(r) => results.push(r),
                    Err(e) => rejected.push(e.to_string()),
                }
            }
            Uplink::Results { results, rejected }
        }
        Msg::Heartbeat(hb) => Uplink::Heartbeat(hb.stats.map(HostStats::from).unwrap_or_default()),
    })
}

/// The request stream of `AgentLink.Connect`, converted message by message.
pub fn uplinks(inbound: Streaming<pb::AgentMessage>) -> UplinkStream {
    Box::pin(inbound.map(|m| match m {
        Ok(m) => uplink(m).map_err(UplinkError::Malformed),
        Err(status) if status.code() == tonic::Code::OutOfRange => {
            Err(UplinkError::TooLarge(status))
        }
        Err(status) => Err(UplinkError::Stream(status)),
    }))
}

/// The response stream of `AgentLink.Connect`: `welcome` first, then
/// everything the session sends on `outbound`'s sender.
pub fn downlinks(
    welcome: &Welcome,
    outbound: mpsc::Receiver<Result<Downlink, Status>>,
) -> DownStream {
    let first = tokio_stream::once(Ok(self::welcome(welcome)));
    let rest = ReceiverStream::new(outbound).map(|d| d.map(downlink));
    Box::pin(first.chain(rest))
}

/// A Hello within the contract's limits (`picket_proto::contract::limits`).
fn hello(h: pb::Hello) -> Result<Hello, FieldError> {
    // 10k labels are refused by their count, before any is looked at.
    let labels: Vec<(&str, &str)> = h
        .labels
        .iter()
        .take(limits::MAX_LABELS + 1)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if h.labels.len() > limits::MAX_LABELS {
        return Err(FieldError {
            field: "labels",
            reason: format!("{} labels, at most {}", h.labels.len(), limits::MAX_LABELS),
        });
    }
    limits::check_hello(&limits::HelloFields {
        agent_id: &h.agent_id,
        credential: &h.credential,
        enrollment_token: &h.enrollment_token,
        name: &h.name,
        region: &h.region,
        version: &h.version,
        labels: &labels,
    })?;
    Ok(Hello {
        protocol_version: h.protocol_version,
        agent_id: h.agent_id.into(),
        credential: h.credential,
        enrollment_token: h.enrollment_token,
        name: h.name,
        region: h.region,
        labels: h.labels.into_iter().collect(),
        version: h.version,
        assignment_digest: Some(h.assignment_digest).filter(|d| *d != 0),
    })
}

/// `detail` cut to the contract's limit, on a character boundary.
fn welcome(w: &Welcome) -> pb::CollectorMessage {
    pb::CollectorMessage {
        msg: Some(pb::collector_message::Msg::Welcome(pb::Welcome {
            agent_id: w.agent_id.to_string(),
            credential: w.credential.clone().unwrap_or_default(),
            state: w.state.as_str().to_owned(),
            heartbeat_interval_ms: w.heartbeat_interval.as_millis() as u64,
            last_committed_seq: w.last_committed_seq,
        })),
    }
}

fn error_kind(k: pb::ErrorKind) -> Option<ErrorKind> {
    Some(match k {
        pb::ErrorKind::Unspecified => return None,
        pb::ErrorKind::HttpStatus => ErrorKind::HttpStatus,
        pb::ErrorKind::Timeout => ErrorKind::Timeout,
        pb::ErrorKind::Dns => ErrorKind::Dns,
        pb::ErrorKind::Connect => ErrorKind::Connect,
        pb::ErrorKind::Tls => ErrorKind::Tls,
        pb::ErrorKind::Protocol => ErrorKind::Protocol,
        pb::ErrorKind::BodyMismatch => ErrorKind::BodyMismatch,
    })
}

impl TryFrom<pb::ProbeResult> for ProbeResult {
    type Error = ConvertError;

    fn try_from(r: pb::ProbeResult) -> Result<Self, ConvertError> {
        let seq = r.seq;
        if seq == 0 {
            return Err(ConvertError::ZeroSeq);
        }
        if seq > limits::MAX_SEQ {
            return Err(ConvertError::SeqTooLarge(seq));
        }
        if r.check_id.is_empty() {
            return Err(ConvertError::NoCheck { seq });
        }
        if r.check_id.len() > limits::MAX_ID_BYTES {
            let len = r.check_id.len();
            return Err(ConvertError::LongCheck { seq, len });
        }
        let status_code = match r.status_code {
            0 => None,
            c => Some(
                u16::try_from(c)
                    .ok()
                    .filter(|c| (100..=999).contains(c))
                    .ok_or(ConvertError::BadStatus { seq, value: c })?,
            ),
        };
        let kind =
            pb::ErrorKind::try_from(r.error_kind).map_err(|_| ConvertError::BadErrorKind {
                seq,
                value: r.error_kind,
            })?;
        let error_kind = if r.ok {
            None
        } else {
            Some(error_kind(kind).ok_or(ConvertError::NoErrorKind { seq })?)
        };
        let phases = phases(&r);
        let error = (!r.ok).then(|| {
            if r.error_detail.is_empty() {
                error_kind.map_or_else(String::new, |k| k.as_str().to_owned())
            } else {
                limits::cut_error_detail(r.error_detail)
            }
        });
        Ok(ProbeResult {
            seq,
            service: r.check_id.into(),
            round_id: r.round_id,
            started_at_ms: r.started_at_ms,
            outcome: ProbeOutcome {
                ok: r.ok,
                status_code,
                error_kind,
                error,
                duration_us: r.duration_us,
                phases,
                cert_not_after_ms: cert_not_after(r.cert_not_after_ms),
            },
        })
    }
}

/// The longest phase kept: a day, far past any probe's timeout.
pub const MAX_PHASE_US: u64 = 24 * 3600 * 1_000_000;

/// The latest certificate expiry kept: 9999-12-31T23:59:59.999Z, the end of
/// X.509's time range.
pub const MAX_CERT_NOT_AFTER_MS: i64 = 253_402_300_799_999;

/// A result's phases: 0 is "not measured", and a phase longer than the
/// whole probe or than [`MAX_PHASE_US`] cannot be true, so it is dropped
/// (`None`) rather than stored; the result itself stands.
fn phases(r: &pb::ProbeResult) -> Phases {
    let sane = |us: u64| (us > 0 && us <= r.duration_us && us <= MAX_PHASE_US).then_some(us);
    Phases {
        dns_us: sane(r.dns_us),
        connect_us: sane(r.connect_us),
        tls_us: sane(r.tls_us),
        processing_us: sane(r.first_byte_us),
        transfer_us: sane(r.transfer_us),
    }
}

/// A certificate expiry within 1970..=9999 (0 is "unknown"); anything else
/// is dropped as unknown.
fn cert_not_after(ms: i64) -> Option<i64> {
    (ms > 0 && ms <= MAX_CERT_NOT_AFTER_MS).then_some(ms)
}

fn check(c: &CheckSpec) -> pb::Check {
    pb::Check {
        id: c.id.to_string(),
        url: c.url.clone(),
        method: c.method.clone(),
        headers: c
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        basic_auth: c.basic_auth.as_ref().map(|(user, password)| pb::BasicAuth {
            user: user.clone(),
            password: password.clone(),
        }),
        expected_status: c.expected_status.iter().copied().map(u32::from).collect(),
        body_contains: c.body_contains.clone().unwrap_or_default(),
        follow_redirects: c.follow_redirects,
        max_redirects: c.max_redirects,
        timeout_ms: c.timeout_ms,
        interval_ms: c.interval_ms,
        max_body_bytes: c.max_body_bytes,
        reuse_connections: c.reuse_connections,
    }
}

fn assignment(part: AssignmentPart) -> pb::Assignment {
    let (kind, base_generation) = match part.kind {
        AssignmentKind::Full => (pb::AssignmentKind::Full, 0),
        AssignmentKind::Delta { base } => (pb::AssignmentKind::Delta, base),
        AssignmentKind::Unchanged { .. } => (pb::AssignmentKind::Unchanged, 0),
    };
    pb::Assignment {
        checks: part.checks.iter().map(|c| check(c)).collect(),
        generation: part.generation,
        kind: kind.into(),
        base_generation,
        removed: part.removed.into_iter().map(String::from).collect(),
        last: part.last,
        digest: part.digest,
    }
}

pub fn downlink(d: Downlink) -> pb::CollectorMessage {
    use pb::collector_message::Msg;
    let msg = match d {
        Downlink::Assignment(part) => Msg::Assignment(assignment(part)),
        Downlink::Recheck { service, round_id } => Msg::Recheck(pb::Recheck {
            check_id: service.into(),
            round_id,
        }),
        Downlink::Ack(seq) => Msg::Ack(pb::Ack { seq }),
    };
    pb::CollectorMessage { msg: Some(msg) }
}

#[cfg(test)]
mod tests;
