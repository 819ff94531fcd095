//! Maintenance requests as plain data: the stored request with its notes,
//! and a request to open. Their texts come from [`super::texts`].

use super::{AgentId, CloseReason, EquipmentId, RequestId, RequestKind, ServiceId, Stage};

/// A request to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    pub name: String,
    pub kind: RequestKind,
    /// `"0"` to `"3"`.
    pub priority: String,
    pub description: String,
    pub equipment_id: Option<EquipmentId>,
    pub url: Option<String>,
}

/// A note on a request (the automatic closing note has author `picket`).
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub author: String,
    pub time_ms: i64,
    pub text: String,
}

/// A stored request with its notes.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub name: String,
    pub kind: RequestKind,
    pub priority: String,
    pub description: String,
    pub stage: Stage,
    /// Set for corrective requests.
    pub service_id: Option<ServiceId>,
    /// Set for agent requests.
    pub agent_id: Option<AgentId>,
    pub equipment_id: Option<EquipmentId>,
    pub url: Option<String>,
    pub opened_ms: i64,
    pub closed_ms: Option<i64>,
    pub close_reason: Option<CloseReason>,
    /// When someone acknowledged it (`picketctl requests ack`): its
    /// reminders stop.
    pub acknowledged_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub notes: Vec<Note>,
}
