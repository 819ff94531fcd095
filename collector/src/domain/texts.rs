//! Every text of a maintenance request in one place: names, descriptions,
//! closing notes, the default priority and the automatic author.
//!
//! Pure functions: times come in as arguments (epoch ms), so the same
//! input always gives the same text.

use std::time::Duration;

use super::{AgentSnapshot, EquipmentId, NewRequest, RequestKind, Vote};
use crate::time::rfc3339;
use picket_proto::contract::text::format_duration;

mod root_cause;
pub use root_cause::*;

/// The priority of requests that configure none (`"0"` to `"3"`).
pub const DEFAULT_PRIORITY: &str = "2";

/// The author of automatic notes.
pub const AUTOMATIC_AUTHOR: &str = "picket";

/// The note closing the request of a service that left the configuration.
pub const REMOVED_NOTE: &str =
    "closed automatically: the service was removed from the configuration";

/// The author of the notes a person writes through the admin API.
pub const ADMIN_AUTHOR: &str = "admin";

/// The note of a request closed by hand without a note of its own.
pub const MANUAL_CLOSE_NOTE: &str = "closed by hand";

/// The error of a pending delivery given up because its webhook left the
/// configuration.
pub const REMOVED_WEBHOOK_ERROR: &str = "given up: the webhook was removed from the configuration";

/// `[HTTP KO] {url}`, with the URL as configured.
pub fn service_request_name(url: &str) -> String {
    format!("[HTTP KO] {url}")
}

/// `HTTP 503` (the first failing vote's label), then who saw what.
pub fn describe_failure(url: &str, votes: &[Vote]) -> String {
    let label = votes
        .iter()
        .find_map(|v| v.outcome.error.clone())
        .unwrap_or_else(|| "failure".to_owned());
    let mut text = format!("{label}\n\n{url} failed the double-check.\nSeen by:");
    for v in votes {
        let what = v.outcome.error.as_deref().unwrap_or("failed");
        text.push_str(&format!(
            "\n- {} ({}): {} at {}",
            v.agent_name,
            v.agent,
            what,
            rfc3339(v.time_ms)
        ));
    }
    text
}

/// The corrective request a confirmed failure of `url` opens.
pub fn service_request(
    url: &str,
    equipment_id: &EquipmentId,
    priority: &str,
    votes: &[Vote],
) -> NewRequest {
    NewRequest {
        name: service_request_name(url),
        kind: RequestKind::Corrective,
        priority: priority.to_owned(),
        description: describe_failure(url, votes),
        equipment_id: Some(equipment_id.clone()),
        url: Some(url.to_owned()),
    }
}

/// The request of a service whose outage a mute maintenance window held
/// since `since_ms` and that was still down when the window ended at
/// `ended_ms`: the usual request, its description saying so first.
pub fn held_request(
    svc: (&str, &EquipmentId, &str),
    votes: &[Vote],
    since_ms: i64,
    ended_ms: i64,
) -> NewRequest {
    let (url, equipment_id, priority) = svc;
    let mut request = service_request(url, equipment_id, priority, votes);
    request.description = format!(
        "Held by the mute maintenance window on {equipment_id} since {}; still down when it ended at {}.\n\n{}",
        rfc3339(since_ms),
        rfc3339(ended_ms),
        request.description
    );
    request
}

/// The note closing a recovered service's request, written at `now_ms`.
pub fn closing_note(url: &str, votes: &[Vote], now_ms: i64) -> String {
    let agents: Vec<&str> = votes.iter().map(|v| v.agent_name.as_str()).collect();
    let code = votes
        .iter()
        .find_map(|v| v.outcome.status_code)
        .map_or_else(|| "OK".to_owned(), |c| format!("HTTP {c}"));
    let agents = if agents.is_empty() {
        "-".to_owned()
    } else {
        agents.join(", ")
    };
    format!(
        "closed automatically: {url} answered {code} from agents {agents} at {}",
        rfc3339(now_ms)
    )
}

/// `[AGENT DOWN] {name}`.
pub fn agent_request_name(name: &str) -> String {
    format!("[AGENT DOWN] {name}")
}

/// Why the dead-man's switch fired: who, where, since when, and the
/// heartbeat settings that make it late.
pub fn describe_agent_down(agent: &AgentSnapshot, heartbeat: Duration, missed: u32) -> String {
    format!(
        "agent {} ({}) in region {:?} has not been heard from since {} (heartbeat every {}, {} missed)",
        agent.name,
        agent.id,
        agent.region,
        agent
            .last_seen_ms
            .map_or_else(|| "its start".to_owned(), rfc3339),
        format_duration(heartbeat),
        missed,
    )
}

/// The request a silent agent opens.
pub fn agent_down_request(agent: &AgentSnapshot, heartbeat: Duration, missed: u32) -> NewRequest {
    NewRequest {
        name: agent_request_name(&agent.name),
        kind: RequestKind::Agent,
        priority: DEFAULT_PRIORITY.to_owned(),
        description: describe_agent_down(agent, heartbeat, missed),
        equipment_id: None,
        url: None,
    }
}

/// The note closing an agent's request when it is heard from at `heard_ms`.
pub fn agent_closing_note(agent: &AgentSnapshot, heard_ms: i64) -> String {
    format!(
        "closed automatically: agent {} ({}) is back, heard from at {}",
        agent.name,
        agent.id,
        rfc3339(heard_ms)
    )
}

#[cfg(test)]
mod tests;

mod checkin;
pub use checkin::{
    HEARTBEAT_REMOVED_NOTE, Silent, checkin_closing_note, checkin_request, checkin_request_name,
};
