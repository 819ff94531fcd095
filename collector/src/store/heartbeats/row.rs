//! A stored heartbeat as a row: its columns, its liveness and event
//! snapshot, and the values the heartbeat writes take.

use sqlx::Row;

use super::super::{Result, StoreError, named, request_id, text_id};
use crate::domain::{
    EquipmentId, HeartbeatId, HeartbeatLiveness, HeartbeatSnapshot, HeartbeatState, RequestId,
};

/// One stored heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatRow {
    pub id: HeartbeatId,
    pub name: String,
    pub state: HeartbeatState,
    /// From `[[heartbeats]]` (else registered through HTTP).
    pub configured: bool,
    pub period_ms: i64,
    pub grace_ms: i64,
    pub equipment_id: Option<EquipmentId>,
    pub priority: String,
    pub created_ms: i64,
    /// When its deadline started counting (approval, or first stored).
    pub watch_from_ms: Option<i64>,
    pub last_ping_ms: Option<i64>,
    pub last_source: Option<String>,
    /// The last ping's JSON object, as sent.
    pub last_stats: Option<String>,
    pub late_since_ms: Option<i64>,
    pub cloned: bool,
    pub cloned_sources: Vec<String>,
    pub open_request: Option<RequestId>,
}

impl HeartbeatRow {
    /// `late` while its request window is open, `waiting` before a ping.
    pub fn liveness(&self) -> HeartbeatLiveness {
        match (self.late_since_ms, self.last_ping_ms) {
            (Some(_), _) => HeartbeatLiveness::Late,
            (None, None) => HeartbeatLiveness::Waiting,
            (None, Some(_)) => HeartbeatLiveness::Ok,
        }
    }

    /// The heartbeat as `heartbeat.*` events show it.
    pub fn snapshot(&self) -> HeartbeatSnapshot {
        HeartbeatSnapshot {
            id: self.id.clone(),
            name: self.name.clone(),
            state: self.state,
            liveness: self.liveness(),
            last_ping_ms: self.last_ping_ms,
            sources: if self.cloned {
                self.cloned_sources.clone()
            } else {
                Vec::new()
            },
        }
    }
}

pub(super) const COLUMNS: &str = "h.id, h.name, h.state, h.configured, h.period_ms, h.grace_ms, h.equipment_id, \
    h.priority, h.created_ms, h.watch_from_ms, h.last_ping_ms, h.last_source, h.last_stats, \
    h.late_since_ms, h.cloned, h.cloned_sources, \
    (SELECT r.id FROM requests r WHERE r.heartbeat_id = h.id AND r.stage = 'open') AS open_request";

pub(super) fn row(r: &sqlx::any::AnyRow) -> Result<HeartbeatRow> {
    let sources: Option<String> = r.try_get("cloned_sources")?;
    let open: Option<i64> = r.try_get("open_request")?;
    Ok(HeartbeatRow {
        id: text_id(r, "id")?,
        name: r.try_get("name")?,
        state: named(r, "heartbeats", "state")?,
        configured: r.try_get::<i64, _>("configured")? != 0,
        period_ms: r.try_get("period_ms")?,
        grace_ms: r.try_get("grace_ms")?,
        equipment_id: super::super::text_id_opt(r, "equipment_id")?,
        priority: r.try_get("priority")?,
        created_ms: r.try_get("created_ms")?,
        watch_from_ms: r.try_get("watch_from_ms")?,
        last_ping_ms: r.try_get("last_ping_ms")?,
        last_source: r.try_get("last_source")?,
        last_stats: r.try_get("last_stats")?,
        late_since_ms: r.try_get("late_since_ms")?,
        cloned: r.try_get::<i64, _>("cloned")? != 0,
        cloned_sources: sources
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| StoreError::Corrupt {
                table: "heartbeats",
                reason: format!("cloned_sources: {e}"),
            })?
            .unwrap_or_default(),
        open_request: match open {
            Some(_) => Some(request_id(r, "open_request")?),
            None => None,
        },
    })
}

/// A ping to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Ping {
    pub time_ms: i64,
    /// The peer address, or the `instance` the body named.
    pub source: String,
    /// The body's JSON object, if one was sent.
    pub stats: Option<String>,
}

/// A heartbeat registered through HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHeartbeat {
    pub id: HeartbeatId,
    pub name: String,
    pub period_ms: i64,
    pub grace_ms: i64,
    pub token_hash: String,
}
