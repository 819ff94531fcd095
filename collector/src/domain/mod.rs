//! Domain types shared by the collector's actors: plain data, no IO, no
//! proto. Conversions from and to the wire live in `link/convert.rs` and
//! `api/convert.rs`.

pub mod cert;
pub mod event;
pub mod ids;
pub mod quorum;
pub mod request;
pub mod rollup;
pub mod texts;
pub mod verdict;

use crate::redact::debug_redacted;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

pub use event::{
    AgentSnapshot, Event, HeartbeatSnapshot, MaintenanceSnapshot, RequestSnapshot, ServiceSnapshot,
};
pub use ids::{AgentId, EquipmentId, HeartbeatId, RequestId, ServiceId, ServiceMap, service_map};
pub use picket_proto::contract::HostStats;
pub use quorum::Quorum;
pub use request::{NewRequest, Note, Request};
pub use verdict::{DegradedAgent, Verdict, Vote};

/// Parse error for the string forms of the enums below.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownName {
    what: &'static str,
    value: String,
}

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The name used in the API, the CLI, JSON and the store.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($s => Ok(Self::$variant),)+
                    _ => Err(UnknownName { what: $what, value: s.to_owned() }),
                }
            }
        }
    };
}

named_enum!(
    /// The collector's verdict on a service.
    ServiceState, "service state" {
        Unknown => "unknown",
        Up => "up",
        Suspect => "suspect",
        Down => "down",
        Maintenance => "maintenance",
        Paused => "paused",
        Degraded => "degraded",
    }
);

named_enum!(
    /// Why a probe failed (PRODUCT.md "error kind").
    ErrorKind, "error kind" {
        HttpStatus => "http_status",
        Timeout => "timeout",
        Dns => "dns",
        Connect => "connect",
        Tls => "tls",
        Protocol => "protocol",
        BodyMismatch => "body_mismatch",
    }
);

named_enum!(
    /// An agent's administrative state.
    AgentState, "agent state" {
        New => "new",
        Active => "active",
        Suspended => "suspended",
    }
);

named_enum!(
    /// Whether the dead-man's switch hears from an agent.
    Liveness, "liveness" {
        Live => "live",
        Dead => "dead",
    }
);

named_enum!(
    /// What a maintenance request is about: a service that failed the
    /// double-check (`[HTTP KO]`), an agent gone silent (`[AGENT DOWN]`),
    /// most services of one equipment (`[HOST KO]`) or nearly every
    /// service at once (`[MONITORING KO]`).
    RequestKind, "request kind" {
        Corrective => "corrective",
        Agent => "agent",
        Checkin => "checkin",
        Host => "host",
        Monitoring => "monitoring",
    }
);

named_enum!(
    /// A heartbeat's administrative state: only `active` ones alert.
    HeartbeatState, "heartbeat state" {
        New => "new",
        Active => "active",
        Suspended => "suspended",
    }
);

named_enum!(
    /// Whether a heartbeat checks in on time (`waiting`: never pinged yet).
    HeartbeatLiveness, "heartbeat liveness" {
        Ok => "ok",
        Late => "late",
        Waiting => "waiting",
    }
);

named_enum!(
    /// A maintenance request's stage.
    Stage, "request stage" {
        Open => "open",
        Done => "done",
    }
);

named_enum!(
    /// Why a request was closed (PRODUCT.md "Precise details"): its
    /// service or agent came back, a person closed it, or its service left
    /// the configuration.
    CloseReason, "close reason" {
        Recovered => "recovered",
        Manual => "manual",
        Removed => "removed",
    }
);

named_enum!(
    /// The type of an [`Event`] (PRODUCT.md "Webhooks").
    EventType, "event type" {
        RequestOpened => "request.opened",
        RequestClosed => "request.closed",
        ServiceDown => "service.down",
        ServiceUp => "service.up",
        ServiceLocalFailure => "service.local_failure",
        ServiceCertExpiring => "service.cert_expiring",
        AgentRegistered => "agent.registered",
        AgentApproved => "agent.approved",
        AgentSuspended => "agent.suspended",
        AgentDown => "agent.down",
        AgentUp => "agent.up",
        AgentDuplicate => "agent.duplicate",
        MaintenanceStarted => "maintenance.started",
        MaintenanceEnded => "maintenance.ended",
        WebhookDisabled => "webhook.disabled",
        ServiceDegraded => "service.degraded",
        ServiceDegradedEnded => "service.degraded_ended",
        AgentMuted => "agent.muted",
        AgentUnmuted => "agent.unmuted",
        RequestReminder => "request.reminder",
        RequestAcknowledged => "request.acknowledged",
        HeartbeatRegistered => "heartbeat.registered",
        HeartbeatApproved => "heartbeat.approved",
        HeartbeatSuspended => "heartbeat.suspended",
        HeartbeatMissed => "heartbeat.missed",
        HeartbeatResumed => "heartbeat.resumed",
        HeartbeatCloned => "heartbeat.cloned",
    }
);

named_enum!(
    /// What a maintenance window does to its equipment's services:
    /// `pause` stops probing them (state `maintenance`); `mute` keeps
    /// probing and recording them but holds their requests and webhooks
    /// until the window ends.
    MaintenanceMode, "maintenance mode" {
        Pause => "pause",
        Mute => "mute",
    }
);

/// The outcome of one probe as the collector sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    pub ok: bool,
    /// Final HTTP status, when a response arrived.
    pub status_code: Option<u16>,
    /// Set when `ok` is false.
    pub error_kind: Option<ErrorKind>,
    /// The failure's label, e.g. `HTTP 503`, `connect: connection refused`.
    pub error: Option<String>,
    pub duration_us: u64,
    /// Where the time went, where the agent measured it.
    pub phases: Phases,
    /// The earliest certificate expiry (epoch ms) of the presented chain;
    /// `None` over plain HTTP or when unknown.
    pub cert_not_after_ms: Option<i64>,
}

/// The phases of one probe in microseconds, as blackbox_exporter's
/// `probe_http_duration_seconds` splits it, each `None` when not measured
/// (a reused connection has no DNS, connect or TLS phase; an IP literal no
/// DNS; plain HTTP no TLS; a probe that got no answer no processing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    pub dns_us: Option<u64>,
    pub connect_us: Option<u64>,
    pub tls_us: Option<u64>,
    /// To the final response head, less the DNS, connect and TLS phases
    /// (request sent, server think time, earlier redirect hops).
    pub processing_us: Option<u64>,
    /// From the response head to the end of the body read.
    pub transfer_us: Option<u64>,
}

/// One probe result from one agent, as received on the link.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Per-agent sequence number (unique with the agent id).
    pub seq: u64,
    pub service: ServiceId,
    /// 0 for a scheduled probe, else the recheck round it answers.
    pub round_id: u64,
    pub started_at_ms: i64,
    pub outcome: ProbeOutcome,
}

/// A committed result, handed from ingest to the evaluator.
#[derive(Debug, Clone)]
pub struct Observation {
    pub agent: AgentId,
    pub service: ServiceId,
    pub round_id: u64,
    pub time_ms: i64,
    pub outcome: ProbeOutcome,
    /// When the collector received it (recheck_delay counts from here).
    pub received: tokio::time::Instant,
}

/// What an agent says about itself when it connects.
#[derive(Clone, PartialEq)]
pub struct Hello {
    pub protocol_version: u32,
    pub agent_id: AgentId,
    pub credential: String,
    pub enrollment_token: String,
    pub name: String,
    pub region: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub version: String,
    /// The digest of the set the agent runs (from a previous session's
    /// last update); `None` when it has none.
    pub assignment_digest: Option<u64>,
}
debug_redacted!(Hello {
    protocol_version, agent_id, name, region, labels, version, assignment_digest
} secret { credential, enrollment_token });

/// One check as an agent runs it (the service's probe settings).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    pub id: ServiceId,
    /// The URL to probe: https upgrade and `path` applied.
    pub url: String,
    pub method: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub basic_auth: Option<(String, String)>,
    pub expected_status: Vec<u16>,
    pub body_contains: Option<String>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub timeout_ms: u64,
    pub interval_ms: u64,
    pub max_body_bytes: u64,
    pub reuse_connections: bool,
}
debug_redacted!(CheckSpec {
    id, url, method, expected_status, body_contains, follow_redirects, max_redirects, timeout_ms, interval_ms, max_body_bytes, reuse_connections
} secret { headers, basic_auth });

/// A message from the collector to one agent. Converted to proto at the
/// link's edge (`link/convert.rs`), where the response stream is built.
#[derive(Debug, Clone, PartialEq)]
pub enum Downlink {
    /// One part of an update of the agent's check set
    /// (`agents/chunks.rs` cuts them).
    Assignment(AssignmentPart),
    /// Probe this check now and tag the result with `round_id`.
    Recheck { service: ServiceId, round_id: u64 },
    /// Every result up to `seq` is committed.
    Ack(u64),
}

/// Which kind of assignment update a part belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignmentKind {
    /// The whole set: checks not in it stop once its last part arrived.
    Full,
    /// Added or changed checks and removed ids against generation `base`.
    Delta { base: u64 },
    /// The agent's set (its Hello's digest) is the set. `ids` are its
    /// checks, for the session's guard; they are not sent.
    Unchanged { ids: Arc<Vec<ServiceId>> },
}

/// One part of an assignment update; the agent applies the update when
/// the part with `last` arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentPart {
    /// The generation the update brings the agent to (1, 2, ... per session).
    pub generation: u64,
    pub kind: AssignmentKind,
    /// Full: members; Delta: added or changed checks. Shared with the
    /// configuration (a million checks assigned to three agents are a
    /// million definitions, not three million).
    pub checks: Vec<std::sync::Arc<CheckSpec>>,
    /// Delta: checks that stop.
    pub removed: Vec<ServiceId>,
    pub last: bool,
    /// The digest of the whole set after the update (on every part).
    pub digest: u64,
}

/// A message from one agent, as converted at the link's edge
/// (`link/convert.rs`) before its session sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Uplink {
    /// The stream's first message (a second one ends the session).
    Hello(Hello),
    /// A batch of results. A result that fails conversion is dropped alone
    /// and its reason listed in `rejected`; the rest of the batch stands.
    Results {
        results: Vec<ProbeResult>,
        rejected: Vec<String>,
    },
    /// A heartbeat's host stats (liveness uses the collector's clock, so the
    /// agent's timestamp is not kept).
    Heartbeat(HostStats),
}
