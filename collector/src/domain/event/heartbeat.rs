//! A heartbeat as `heartbeat.*` events show it, and its JSON object.

use serde_json::{Value, json};

use crate::domain::{HeartbeatId, HeartbeatLiveness, HeartbeatState};
use crate::time::rfc3339;

/// A heartbeat as `heartbeat.*` events show it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatSnapshot {
    pub id: HeartbeatId,
    pub name: String,
    pub state: HeartbeatState,
    pub liveness: HeartbeatLiveness,
    pub last_ping_ms: Option<i64>,
    /// The sources seen pinging its token (set on `heartbeat.cloned`).
    pub sources: Vec<String>,
}

pub(super) fn heartbeat_json(h: &HeartbeatSnapshot) -> Value {
    let mut v = json!({
        "id": h.id,
        "name": h.name,
        "state": h.state.as_str(),
        "liveness": h.liveness.as_str(),
        "last_ping_at": h.last_ping_ms.map(rfc3339),
    });
    if !h.sources.is_empty()
        && let Value::Object(m) = &mut v
    {
        m.insert("cloned_sources".into(), json!(h.sources));
    }
    v
}
