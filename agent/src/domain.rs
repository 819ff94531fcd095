//! The agent's vocabulary: checks it is told to run, the reports its probes
//! produce, and the host statistics it sends with heartbeats.
//!
//! Plain data only: no proto types, no IO, no clocks. `link/convert.rs` maps
//! these to and from the wire ([`Uplink`] up, [`Downlink`] down); everything
//! else works with them. [`HostStats`] is the contract's own struct
//! (`picket_proto::contract`), shared with the collector. Ids are newtypes
//! ([`CheckId`], [`AgentId`]) so that one cannot stand for the other.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

pub use picket_proto::contract::HostStats;

use crate::outbox::Sequenced;

/// Default probe timeout when the collector leaves it unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default probe interval when the collector leaves it unset.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest interval a check may have.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Default bound on the body bytes a probe reads.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// Default heartbeat interval when the collector leaves it unset.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

picket_proto::string_id!(
    /// A check's id: the service id the collector assigned it under.
    CheckId
);

picket_proto::string_id!(
    /// This agent's id (a UUID kept in the state file).
    AgentId
);

/// HTTP method of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: fetch status and body.
    Get,
    /// `HEAD`: status only.
    Head,
}

/// Credentials for HTTP basic authentication.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BasicAuth {
    /// User name.
    pub user: String,
    /// Password, never logged.
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &REDACTED)
            .finish()
    }
}

/// One check the collector assigned: what to probe and how to judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The service id; unique within an assignment.
    pub id: CheckId,
    /// Final URL to probe.
    pub url: String,
    /// GET or HEAD.
    pub method: Method,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Optional basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// Statuses that count as success (never empty).
    pub expected_status: Vec<u16>,
    /// Text the body must contain; empty means no body check.
    pub body_contains: String,
    /// Whether to follow redirects.
    pub follow_redirects: bool,
    /// Most redirects followed before failing.
    pub max_redirects: u32,
    /// Hard limit on the whole probe.
    pub timeout: Duration,
    /// Start-to-start interval between scheduled probes.
    pub interval: Duration,
    /// Most body bytes read.
    pub max_body_bytes: u64,
    /// Allow keep-alive connections between probes.
    pub reuse_connections: bool,
}

/// Why a probe failed, as the product names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The final status was not expected.
    HttpStatus,
    /// The probe did not finish within its timeout.
    Timeout,
    /// The host name did not resolve.
    Dns,
    /// The TCP connection failed (refused, reset, unreachable).
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The peer spoke bad HTTP, or redirects went wrong.
    Protocol,
    /// The body did not contain the expected text.
    BodyMismatch,
}

impl ErrorKind {
    /// The label used in details, logs and the CLI (`http_status`, `tls`, …).
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Protocol => "protocol",
            ErrorKind::BodyMismatch => "body_mismatch",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A classified probe failure: its kind and the human-readable detail
/// (`HTTP 503`, `timeout after 10s`, `tls: certificate expired`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// The error kind.
    pub kind: ErrorKind,
    /// The full detail line, starting with the kind's label where the
    /// product says so.
    pub detail: String,
}

impl ProbeFailure {
    /// A failure of `kind` with `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> ProbeFailure {
        ProbeFailure {
            kind,
            detail: detail.into(),
        }
    }
}

/// Durations of the phases of a probe, where measured, as blackbox_exporter
/// defines them: each is the sum over the connections the probe opened
/// (one per redirect hop that needed a new one), so with redirects the
/// phases add up across hops. A reused keep-alive connection adds 0 to
/// `dns`, `connect` and `tls`; so do an IP literal (no resolution) and
/// plain HTTP (no handshake). A probe cut short (timeout, error) reports
/// the phases it reached, the last one up to the moment it ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Name resolution.
    pub dns: Option<Duration>,
    /// TCP connect (including the source-address bind).
    pub connect: Option<Duration>,
    /// TLS handshake, from the ClientHello to the verified connection.
    pub tls: Option<Duration>,
    /// "Processing": time to the final response head not spent in `dns`,
    /// `connect` or `tls` (request sent, server think time, earlier hops'
    /// responses). `None` when no response head arrived.
    pub first_byte: Option<Duration>,
    /// From the final response head to the end of the body read (its end
    /// or the body limit). `None` when the body was not read.
    pub transfer: Option<Duration>,
}

/// The outcome of one probe of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The check (service) id.
    pub check_id: CheckId,
    /// 0 for a scheduled probe, else the recheck round it answers.
    pub round_id: u64,
    /// Wall-clock start of the probe.
    pub started_at: SystemTime,
    /// Total duration.
    pub duration: Duration,
    /// Final HTTP status, 0 when no response arrived.
    pub status_code: u16,
    /// `None` when the probe succeeded.
    pub failure: Option<ProbeFailure>,
    /// Phase timings, where measured.
    pub phases: Phases,
    /// The earliest `notAfter` in the certificate chain the server
    /// presented (leaf and intermediates), where known.
    pub cert_not_after: Option<SystemTime>,
}

impl ProbeReport {
    /// Whether the probe succeeded.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// What the collector said in its Welcome.
#[derive(Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The agent id the collector knows us by.
    pub agent_id: AgentId,
    /// A newly issued credential to store, if any.
    pub credential: Option<String>,
    /// `new`, `active` or `suspended`.
    pub state: String,
    /// How often to heartbeat.
    pub heartbeat_interval: Duration,
    /// Highest committed result sequence number (0 if none).
    pub last_committed_seq: u64,
}

impl fmt::Debug for Welcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Welcome")
            .field("agent_id", &self.agent_id)
            .field("credential", &self.credential.as_ref().map(|_| REDACTED))
            .field("state", &self.state)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("last_committed_seq", &self.last_committed_seq)
            .finish()
    }
}

/// How `Debug` shows a secret.
const REDACTED: &str = "<redacted>";

/// What the agent says about itself when it opens a session. The protocol
/// version and the agent's build version are added on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Hello {
    /// The agent's id, from its state file.
    pub agent_id: AgentId,
    /// The issued credential; empty before enrollment.
    pub credential: String,
    /// The enrollment token, always sent.
    pub enrollment_token: String,
    /// Agent name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The digest of the set the agent runs (0: none).
    pub assignment_digest: u64,
}

impl fmt::Debug for Hello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hello")
            .field("agent_id", &self.agent_id)
            .field("credential", &REDACTED)
            .field("enrollment_token", &REDACTED)
            .field("name", &self.name)
            .field("region", &self.region)
            .field("labels", &self.labels)
            .field("assignment_digest", &self.assignment_digest)
            .finish()
    }
}

/// A message to the collector before conversion.
#[derive(Debug, Clone, PartialEq)]
pub enum Uplink {
    /// The session's first message.
    Hello(Hello),
    /// A batch of sequenced results, oldest first.
    Results(Vec<Sequenced>),
    /// Host and agent statistics, stamped with the agent's clock.
    Heartbeat {
        /// When the sample was taken.
        time: SystemTime,
        /// The sample.
        stats: HostStats,
    },
}

/// Which kind of assignment update a part belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// The whole set; checks not in it stop once it is complete.
    Full,
    /// Changes to the set of generation `base`.
    Delta { base: u64 },
    /// Keep the set the agent has (its Hello's digest matched).
    Unchanged,
}

/// One part of an assignment update (applied once the `last` one is in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentPart {
    /// The generation the update brings the set to.
    pub generation: u64,
    /// Full, delta or unchanged.
    pub kind: PartKind,
    /// The valid checks: members (full) or added and changed (delta).
    pub checks: Vec<Check>,
    /// Checks that stop (delta), and checks the agent refused.
    pub removed: Vec<CheckId>,
    /// Why some checks were refused (they are not run).
    pub rejected: Vec<String>,
    /// The update's final part.
    pub last: bool,
    /// The digest of the whole set after the update, for the next Hello.
    pub digest: u64,
}

/// A message from the collector after conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Downlink {
    /// The session's first message.
    Welcome(Welcome),
    /// One part of an update of the check set (the link assembles them,
    /// `link/assembly.rs`).
    Assignment(AssignmentPart),
    /// Probe a check now and tag the result.
    Recheck {
        /// The check to probe.
        check_id: CheckId,
        /// The round to report with.
        round_id: u64,
    },
    /// Everything up to and including `seq` is committed.
    Ack {
        /// Highest committed sequence number.
        seq: u64,
    },
}

/// Durations as Picket writes them (`1500ms`, `1m30s`, `4h`).
pub use picket_proto::contract::text::format_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_short() {
        fn check(d: Duration, expected: &str) {
            assert_eq!(format_duration(d), expected, "{d:?}");
        }
        check(Duration::from_secs(1), "1s");
        check(Duration::from_secs(10), "10s");
        check(Duration::from_millis(1500), "1500ms");
        check(Duration::from_millis(250), "250ms");
        check(Duration::from_secs(90), "1m30s");
        check(Duration::from_secs(600), "10m");
        check(Duration::from_secs(4 * 3600), "4h");
        check(Duration::from_secs(5400), "1h30m");
        check(Duration::ZERO, "0s");
        check(Duration::from_micros(1500), "1500us");
    }

    #[test]
    fn basic_auth_debug_hides_password() {
        let auth = BasicAuth {
            user: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{auth:?}").contains("secret"));
    }

    #[test]
    fn hello_and_welcome_debug_hide_the_secrets() {
        let hello = Hello {
            agent_id: AgentId::from("a1"),
            credential: "cred-123".into(),
            enrollment_token: "tok-456".into(),
            name: "n".into(),
            region: "eu".into(),
            labels: BTreeMap::new(),
            assignment_digest: 0,
        };
        let welcome = Welcome {
            agent_id: AgentId::from("a1"),
            credential: Some("cred-789".into()),
            state: "active".into(),
            heartbeat_interval: Duration::from_secs(10),
            last_committed_seq: 0,
        };
        let printed = format!("{hello:?} {welcome:?}");
        for secret in ["cred-123", "tok-456", "cred-789"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("a1"), "{printed}");
    }
}
