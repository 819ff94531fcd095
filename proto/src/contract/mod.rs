//! What the agent and the collector must agree on beyond the message
//! shapes: the protocol version, how refusals travel as gRPC status codes
//! and which of them end an agent, the agent's reconnect backoff cap, and
//! the host statistics carried by heartbeats; the sizes both accept
//! ([`limits`]: message size, Hello fields, sequence numbers); how both
//! declare their string ids ([`string_id!`](crate::string_id), in `ids`);
//! and how all of Picket writes durations and times for people ([`text`]);
//! the collector URLs clients are given and a standby's leader hint
//! ([`collectors`]).
//!
//! Both crates import these from here, so each fact is written once. This
//! module names generated types only in the `HostStats` conversions.

pub mod collectors;
mod ids;
pub mod limits;
mod refusal;
mod stats;
pub mod text;

use std::time::Duration;

pub use refusal::{Disposition, RefusalKind, classify};
pub use stats::HostStats;

/// The `picket.agent.v1` protocol version both sides speak; a Hello with
/// another version is refused with [`RefusalKind::Incompatible`]. Version 2
/// sends assignments in parts and as changes; a version-1 agent would take
/// one part for its whole set, so it is refused.
pub const PROTOCOL_VERSION: u32 = 2;

/// The longest an agent waits between reconnect attempts (the cap of its
/// exponential backoff). The collector's default settle window adds it, so
/// agents reconnecting after a collector restart are not declared dead
/// meanwhile.
pub const AGENT_MAX_BACKOFF: Duration = Duration::from_secs(30);
