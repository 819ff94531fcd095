//! [`Outcome`]: what one scripted probe found, as the test decides it,
//! with the [`Phases`] and certificate expiry it reports when the test
//! gives them (otherwise 1.5 ms, no phase measured, no certificate).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use picket_proto::agent::v1 as pb;

/// What one probe found, as the test decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub status_code: u32,
    kind: pb::ErrorKind,
    detail: String,
    duration: Duration,
    phases: Phases,
    cert_not_after_ms: i64,
}

/// The phases a scripted probe reports, as blackbox_exporter splits a
/// probe; a zero phase is "not measured".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    pub dns: Duration,
    pub connect: Duration,
    pub tls: Duration,
    /// To the response head, less dns, connect and tls.
    pub processing: Duration,
    pub transfer: Duration,
}

impl Outcome {
    /// The fields every constructor starts from.
    const BARE: Outcome = Outcome {
        ok: false,
        status_code: 0,
        kind: pb::ErrorKind::Unspecified,
        detail: String::new(),
        duration: Duration::from_micros(1500),
        phases: Phases {
            dns: Duration::ZERO,
            connect: Duration::ZERO,
            tls: Duration::ZERO,
            processing: Duration::ZERO,
            transfer: Duration::ZERO,
        },
        cert_not_after_ms: 0,
    };

    /// The same outcome, taking `total` with these phases.
    pub fn with_phases(self, phases: Phases, total: Duration) -> Outcome {
        Outcome {
            phases,
            duration: total,
            ..self
        }
    }

    /// The same outcome, reporting a certificate that expires at
    /// `not_after_ms` (epoch ms).
    pub fn with_cert_expiry(self, not_after_ms: i64) -> Outcome {
        Outcome {
            cert_not_after_ms: not_after_ms,
            ..self
        }
    }

    /// HTTP 200.
    pub fn ok() -> Outcome {
        Outcome {
            ok: true,
            status_code: 200,
            kind: pb::ErrorKind::Unspecified,
            detail: String::new(),
            ..Outcome::BARE
        }
    }

    /// A response with an unexpected status, e.g. `HTTP 503`.
    pub fn status(code: u32) -> Outcome {
        Outcome {
            ok: false,
            status_code: code,
            kind: pb::ErrorKind::HttpStatus,
            detail: format!("HTTP {code}"),
            ..Outcome::BARE
        }
    }

    /// `connect: connection refused`.
    pub fn refused() -> Outcome {
        Outcome {
            ok: false,
            status_code: 0,
            kind: pb::ErrorKind::Connect,
            detail: "connect: connection refused".into(),
            ..Outcome::BARE
        }
    }
}

impl Outcome {
    /// The result message reporting this outcome.
    pub(super) fn result(&self, seq: u64, service: &str, round_id: u64) -> pb::ProbeResult {
        pb::ProbeResult {
            seq,
            check_id: service.into(),
            round_id,
            started_at_ms: now_ms(),
            duration_us: us(self.duration),
            ok: self.ok,
            status_code: self.status_code,
            error_kind: self.kind as i32,
            error_detail: self.detail.clone(),
            dns_us: us(self.phases.dns),
            connect_us: us(self.phases.connect),
            tls_us: us(self.phases.tls),
            first_byte_us: us(self.phases.processing),
            transfer_us: us(self.phases.transfer),
            cert_not_after_ms: self.cert_not_after_ms,
        }
    }
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The wall-clock time in epoch ms, strictly increasing from one call to
/// the next, so that two results of one agent never share a start time
/// (the store's key) however fast a test sends them.
pub(super) fn now_ms() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(previous + 1)
}
