//! `[agents]`: how agents enroll and how often they must be heard from.

use std::time::Duration;

use super::ConfigError;
use super::raw::RawAgents;
use super::source::Source;
use crate::redact::debug_redacted;

/// The longest an agent waits between reconnect attempts (its backoff cap).
/// The default settle window adds it, so agents reconnecting after a
/// collector restart are not declared dead meanwhile.
pub use picket_proto::contract::AGENT_MAX_BACKOFF;

#[derive(Clone)]
pub struct AgentsSection {
    pub enrollment_token: String,
    pub auto_approve: bool,
    pub heartbeat_interval: Duration,
    pub missed_heartbeats: u32,
    pub agents_per_service: usize,
    /// After a collector start, how long every agent has to reconnect
    /// before the dead-man's switch may fire.
    pub settle_window: Duration,
}
debug_redacted!(AgentsSection {
    auto_approve, heartbeat_interval, missed_heartbeats, agents_per_service, settle_window
} secret { enrollment_token });

/// Checks `[agents]`; `enrollment_token` is the one required key.
pub(super) fn validate(src: &Source, a: &RawAgents) -> Result<AgentsSection, ConfigError> {
    let enrollment_token = match &a.enrollment_token {
        Some(t) if !t.get_ref().is_empty() => t.get_ref().clone(),
        Some(t) => return src.err(&t.span(), "enrollment_token: must not be empty"),
        None => return src.err_key("agents.enrollment_token", "is required"),
    };
    let heartbeat_interval = src.opt_duration(
        "heartbeat_interval",
        a.heartbeat_interval.as_ref(),
        Duration::from_secs(10),
    )?;
    let missed_heartbeats = match &a.missed_heartbeats {
        Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
        Some(n) => return src.err(&n.span(), "missed_heartbeats: must be at least 1"),
        None => 3,
    };
    let agents_per_service = match &a.agents_per_service {
        Some(n) if *n.get_ref() >= 1 => *n.get_ref() as usize,
        Some(n) => return src.err(&n.span(), "agents_per_service: must be at least 1"),
        None => 3,
    };
    let settle_window = src.opt_duration(
        "settle_window",
        a.settle_window.as_ref(),
        heartbeat_interval * missed_heartbeats + AGENT_MAX_BACKOFF,
    )?;
    if heartbeat_interval < Duration::from_millis(100) {
        return src.err_key("agents.heartbeat_interval", "must be at least 100ms");
    }
    Ok(AgentsSection {
        enrollment_token,
        auto_approve: a.auto_approve.unwrap_or(false),
        heartbeat_interval,
        missed_heartbeats,
        agents_per_service,
        settle_window,
    })
}
