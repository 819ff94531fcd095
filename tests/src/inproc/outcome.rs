//! [`Outcome`]: what one scripted probe found, as the test decides it.

use std::time::{SystemTime, UNIX_EPOCH};

use picket_proto::agent::v1 as pb;

/// What one probe found, as the test decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub status_code: u32,
    kind: pb::ErrorKind,
    detail: String,
}

impl Outcome {
    /// HTTP 200.
    pub fn ok() -> Outcome {
        Outcome {
            ok: true,
            status_code: 200,
            kind: pb::ErrorKind::Unspecified,
            detail: String::new(),
        }
    }

    /// A response with an unexpected status, e.g. `HTTP 503`.
    pub fn status(code: u32) -> Outcome {
        Outcome {
            ok: false,
            status_code: code,
            kind: pb::ErrorKind::HttpStatus,
            detail: format!("HTTP {code}"),
        }
    }

    /// `connect: connection refused`.
    pub fn refused() -> Outcome {
        Outcome {
            ok: false,
            status_code: 0,
            kind: pb::ErrorKind::Connect,
            detail: "connect: connection refused".into(),
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
            duration_us: 1500,
            ok: self.ok,
            status_code: self.status_code,
            error_kind: self.kind as i32,
            error_detail: self.detail.clone(),
            ..Default::default()
        }
    }
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
