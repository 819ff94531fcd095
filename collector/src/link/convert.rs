//! Agent proto ↔ domain: the only collector file that names
//! `picket.agent.v1` types. Incoming messages are checked here and a bad
//! field is a typed error naming it.

use picket_proto::agent::v1 as pb;

use crate::agents::Welcome;
use crate::domain::{CheckSpec, Downlink, ErrorKind, Hello, HostStats, ProbeOutcome, ProbeResult};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConvertError {
    #[error("result seq must be at least 1")]
    ZeroSeq,
    #[error("result {seq}: check_id is empty")]
    NoCheck { seq: u64 },
    #[error("result {seq}: a failure needs an error_kind")]
    NoErrorKind { seq: u64 },
    #[error("result {seq}: unknown error_kind {value}")]
    BadErrorKind { seq: u64, value: i32 },
    #[error("result {seq}: status_code {value} is not an HTTP status")]
    BadStatus { seq: u64, value: u32 },
}

pub fn hello(h: pb::Hello) -> Hello {
    Hello {
        protocol_version: h.protocol_version,
        agent_id: h.agent_id,
        credential: h.credential,
        enrollment_token: h.enrollment_token,
        name: h.name,
        region: h.region,
        labels: h.labels.into_iter().collect(),
        version: h.version,
    }
}

pub fn welcome(w: &Welcome) -> pb::CollectorMessage {
    pb::CollectorMessage {
        msg: Some(pb::collector_message::Msg::Welcome(pb::Welcome {
            agent_id: w.agent_id.clone(),
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
        if r.check_id.is_empty() {
            return Err(ConvertError::NoCheck { seq });
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
        let error = (!r.ok).then(|| {
            if r.error_detail.is_empty() {
                error_kind.map_or_else(String::new, |k| k.as_str().to_owned())
            } else {
                r.error_detail
            }
        });
        Ok(ProbeResult {
            seq,
            service: r.check_id,
            round_id: r.round_id,
            started_at_ms: r.started_at_ms,
            outcome: ProbeOutcome {
                ok: r.ok,
                status_code,
                error_kind,
                error,
                duration_us: r.duration_us,
            },
        })
    }
}

pub fn stats(s: pb::HostStats) -> HostStats {
    HostStats {
        cpu_percent: s.cpu_percent,
        load1: s.load1,
        load5: s.load5,
        load15: s.load15,
        mem_total_bytes: s.mem_total_bytes,
        mem_used_bytes: s.mem_used_bytes,
        disk_total_bytes: s.disk_total_bytes,
        disk_used_bytes: s.disk_used_bytes,
        uptime_s: s.uptime_s,
        agent_version: s.agent_version,
        checks_assigned: s.checks_assigned,
        checks_in_flight: s.checks_in_flight,
        results_buffered: s.results_buffered,
        results_dropped: s.results_dropped,
    }
}

fn check(c: CheckSpec) -> pb::Check {
    pb::Check {
        id: c.id,
        url: c.url,
        method: c.method,
        headers: c.headers.into_iter().collect(),
        basic_auth: c
            .basic_auth
            .map(|(user, password)| pb::BasicAuth { user, password }),
        expected_status: c.expected_status.into_iter().map(u32::from).collect(),
        body_contains: c.body_contains.unwrap_or_default(),
        follow_redirects: c.follow_redirects,
        max_redirects: c.max_redirects,
        timeout_ms: c.timeout_ms,
        interval_ms: c.interval_ms,
        max_body_bytes: c.max_body_bytes,
        reuse_connections: c.reuse_connections,
    }
}

pub fn downlink(d: Downlink) -> pb::CollectorMessage {
    use pb::collector_message::Msg;
    let msg = match d {
        Downlink::Assignment(checks) => Msg::Assignment(pb::Assignment {
            checks: checks.into_iter().map(check).collect(),
        }),
        Downlink::Recheck { service, round_id } => Msg::Recheck(pb::Recheck {
            check_id: service,
            round_id,
        }),
        Downlink::Ack(seq) => Msg::Ack(pb::Ack { seq }),
    };
    pb::CollectorMessage { msg: Some(msg) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(seq: u64, ok: bool, kind: pb::ErrorKind, status: u32) -> pb::ProbeResult {
        pb::ProbeResult {
            seq,
            check_id: "shop".into(),
            ok,
            status_code: status,
            error_kind: kind as i32,
            error_detail: if ok { String::new() } else { "HTTP 503".into() },
            ..Default::default()
        }
    }

    #[test]
    fn results_are_checked_field_by_field() {
        let ok =
            ProbeResult::try_from(result(1, true, pb::ErrorKind::Unspecified, 200)).expect("ok");
        assert_eq!(
            (ok.outcome.status_code, ok.outcome.error_kind),
            (Some(200), None)
        );
        let bad = ProbeResult::try_from(result(2, false, pb::ErrorKind::HttpStatus, 503))
            .expect("failure");
        assert_eq!(bad.outcome.error_kind, Some(ErrorKind::HttpStatus));
        assert_eq!(bad.outcome.error.as_deref(), Some("HTTP 503"));
        assert_eq!(
            ProbeResult::try_from(result(0, true, pb::ErrorKind::Unspecified, 200)),
            Err(ConvertError::ZeroSeq)
        );
        assert_eq!(
            ProbeResult::try_from(result(3, false, pb::ErrorKind::Unspecified, 0)),
            Err(ConvertError::NoErrorKind { seq: 3 })
        );
        assert_eq!(
            ProbeResult::try_from(result(4, true, pb::ErrorKind::Unspecified, 70000)),
            Err(ConvertError::BadStatus {
                seq: 4,
                value: 70000
            })
        );
        let mut unknown = result(5, false, pb::ErrorKind::Tls, 0);
        unknown.error_kind = 99;
        assert_eq!(
            ProbeResult::try_from(unknown),
            Err(ConvertError::BadErrorKind { seq: 5, value: 99 })
        );
    }
}
