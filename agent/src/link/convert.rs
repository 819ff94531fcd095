//! Proto ↔ agent domain: the only agent file that names generated types.
//!
//! Incoming messages are checked here; a bad field becomes a
//! [`ConvertError`] naming it. Unset proto3 numbers take the product's
//! defaults (timeout 10 s, interval 60 s, body bound 1 MiB, 10 redirects).

use std::time::{Duration, SystemTime};

use pb::agent_message::Msg as Up;
use pb::collector_message::Msg as Down;
use picket_proto::agent::v1 as pb;

use crate::domain::{self, BasicAuth, Check, Downlink, ErrorKind, HostStats, Method, Welcome};
use crate::identity::Identity;
use crate::outbox::Sequenced;

/// Protocol version this agent speaks.
pub const PROTOCOL_VERSION: u32 = 1;

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

/// What the agent says about itself in Hello.
#[derive(Debug, Clone)]
pub struct HelloInfo<'a> {
    /// Stored identity.
    pub identity: &'a Identity,
    /// Enrollment token, always sent.
    pub enrollment_token: &'a str,
    /// Agent name.
    pub name: &'a str,
    /// Region.
    pub region: &'a str,
    /// Labels.
    pub labels: &'a std::collections::BTreeMap<String, String>,
}

/// The Hello message opening every session.
pub fn hello(info: &HelloInfo<'_>) -> pb::AgentMessage {
    pb::AgentMessage {
        msg: Some(Up::Hello(pb::Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_id: info.identity.agent_id.clone(),
            credential: info.identity.credential.clone(),
            enrollment_token: info.enrollment_token.to_owned(),
            name: info.name.to_owned(),
            region: info.region.to_owned(),
            labels: info
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })),
    }
}

/// A batch of sequenced results.
pub fn results(batch: &[Sequenced]) -> pb::AgentMessage {
    pb::AgentMessage {
        msg: Some(Up::Results(pb::ResultBatch {
            results: batch.iter().map(result).collect(),
        })),
    }
}

fn result(item: &Sequenced) -> pb::ProbeResult {
    let r = &item.report;
    let us =
        |d: Option<Duration>| d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let (kind, detail) = match &r.failure {
        Some(f) => (error_kind(f.kind), f.detail.clone()),
        None => (pb::ErrorKind::Unspecified, String::new()),
    };
    pb::ProbeResult {
        seq: item.seq,
        check_id: r.check_id.clone(),
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

/// A heartbeat carrying `stats`, stamped `now`.
pub fn heartbeat(stats: &HostStats, now: SystemTime) -> pb::AgentMessage {
    pb::AgentMessage {
        msg: Some(Up::Heartbeat(pb::Heartbeat {
            time_ms: epoch_ms(now),
            stats: Some(pb::HostStats {
                cpu_percent: stats.cpu_percent,
                load1: stats.load1,
                load5: stats.load5,
                load15: stats.load15,
                mem_total_bytes: stats.mem_total_bytes,
                mem_used_bytes: stats.mem_used_bytes,
                disk_total_bytes: stats.disk_total_bytes,
                disk_used_bytes: stats.disk_used_bytes,
                uptime_s: stats.uptime_s,
                agent_version: stats.agent_version.clone(),
                checks_assigned: stats.checks_assigned,
                checks_in_flight: stats.checks_in_flight,
                results_buffered: stats.results_buffered,
                results_dropped: stats.results_dropped,
            }),
        })),
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
            agent_id: w.agent_id,
            credential: Some(w.credential).filter(|c| !c.is_empty()),
            state: w.state,
            heartbeat_interval: match w.heartbeat_interval_ms {
                0 => domain::DEFAULT_HEARTBEAT_INTERVAL,
                ms => Duration::from_millis(ms),
            },
            last_committed_seq: w.last_committed_seq,
        })),
        Some(Down::Assignment(a)) => {
            let mut checks = Vec::with_capacity(a.checks.len());
            let mut rejected = Vec::new();
            for c in a.checks {
                match Check::try_from(c) {
                    Ok(c) => checks.push(c),
                    Err(e) => rejected.push(e.to_string()),
                }
            }
            Ok(Downlink::Assignment { checks, rejected })
        }
        Some(Down::Recheck(r)) => {
            if r.check_id.is_empty() {
                return Err(bad("recheck.check_id", "empty"));
            }
            Ok(Downlink::Recheck {
                check_id: r.check_id,
                round_id: r.round_id,
            })
        }
        Some(Down::Ack(a)) => Ok(Downlink::Ack { seq: a.seq }),
    }
}

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
            id: c.id,
            url: c.url,
            body_contains: c.body_contains,
            follow_redirects: c.follow_redirects,
            reuse_connections: c.reuse_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ProbeFailure, ProbeReport};

    fn pb_check() -> pb::Check {
        pb::Check {
            id: "shop".into(),
            url: "https://shop.example.com/health".into(),
            ..Default::default()
        }
    }

    #[test]
    fn checks_take_defaults() {
        let c = Check::try_from(pb_check()).unwrap();
        assert_eq!(c.method, Method::Get);
        assert_eq!(c.expected_status, vec![200]);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert_eq!(c.max_redirects, 10);
        assert!(c.basic_auth.is_none());
    }

    #[test]
    fn bad_checks_name_the_field() {
        fn check(edit: impl FnOnce(&mut pb::Check), field: &str) {
            let mut c = pb_check();
            edit(&mut c);
            let err = Check::try_from(c).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
        check(|c| c.id.clear(), "check.id");
        check(|c| c.url = "not a url".into(), "check[shop].url");
        check(|c| c.url = "ftp://x/".into(), "check[shop].url");
        check(|c| c.method = "POST".into(), "check[shop].method");
        check(
            |c| c.expected_status = vec![200, 70000],
            "check[shop].expected_status",
        );
        check(|c| c.interval_ms = 500, "check[shop].interval_ms");
    }

    #[test]
    fn assignment_keeps_valid_checks() {
        let bad_check = pb::Check {
            method: "PUT".into(),
            ..pb_check()
        };
        let other = pb::Check {
            id: "blog".into(),
            ..pb_check()
        };
        let msg = pb::CollectorMessage {
            msg: Some(Down::Assignment(pb::Assignment {
                checks: vec![bad_check, other],
            })),
        };
        match downlink(msg).unwrap() {
            Downlink::Assignment { checks, rejected } => {
                assert_eq!(checks.len(), 1);
                assert_eq!(checks[0].id, "blog");
                assert_eq!(rejected.len(), 1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn results_carry_kind_and_detail() {
        let report = ProbeReport {
            check_id: "shop".into(),
            round_id: 3,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1234),
            duration: Duration::from_micros(5678),
            status_code: 503,
            failure: Some(ProbeFailure::new(ErrorKind::HttpStatus, "HTTP 503")),
            phases: Default::default(),
            cert_not_after: None,
        };
        let msg = results(&[Sequenced { seq: 9, report }]);
        let Some(Up::Results(batch)) = msg.msg else {
            panic!("not a result batch")
        };
        let r = &batch.results[0];
        assert_eq!(r.seq, 9);
        assert_eq!(r.round_id, 3);
        assert_eq!(r.started_at_ms, 1234);
        assert_eq!(r.duration_us, 5678);
        assert!(!r.ok);
        assert_eq!(r.status_code, 503);
        assert_eq!(r.error_kind, pb::ErrorKind::HttpStatus as i32);
        assert_eq!(r.error_detail, "HTTP 503");
    }

    #[test]
    fn welcome_defaults_heartbeat() {
        let msg = pb::CollectorMessage {
            msg: Some(Down::Welcome(pb::Welcome {
                agent_id: "a".into(),
                ..Default::default()
            })),
        };
        let Downlink::Welcome(w) = downlink(msg).unwrap() else {
            panic!("not a welcome")
        };
        assert_eq!(w.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(w.credential, None);
    }
}
