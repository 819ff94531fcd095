//! Request messages → call arguments, each field checked, with
//! [`BadField`] naming what cannot be used.

use std::time::Duration;

use picket_proto::contract::limits;
use picket_proto::v1 as pb;

use crate::domain::{EquipmentId, MaintenanceMode, RequestId};

/// A request field the API cannot use: answered with `INVALID_ARGUMENT`
/// and this text, which starts with the field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BadField {
    /// The field's name in the request message.
    pub field: &'static str,
    pub reason: String,
}

/// The largest request message the API decodes: every request is a few
/// ids, numbers and a reason.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The longest id (service, agent, equipment) a request may name; a longer
/// one cannot exist, and echoing it in a not-found message would be large.
pub const MAX_ID_BYTES: usize = picket_proto::contract::limits::MAX_ID_BYTES;

/// An id field of a request, checked for length.
pub fn id(field: &'static str, value: String) -> Result<String, BadField> {
    if value.len() > MAX_ID_BYTES {
        return Err(BadField {
            field,
            reason: format!("{} bytes, at most {MAX_ID_BYTES}", value.len()),
        });
    }
    Ok(value)
}

/// The longest maintenance window a client may ask for: 100 years, beyond
/// any real window, and short enough that its end is a valid time (a
/// larger value would overflow the end's milliseconds).
pub const MAX_MAINTENANCE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `StartMaintenance`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartMaintenance {
    pub equipment: EquipmentId,
    /// `None`: the configured default duration.
    pub duration: Option<Duration>,
    pub reason: String,
    pub mode: MaintenanceMode,
}

impl TryFrom<pb::StartMaintenanceRequest> for StartMaintenance {
    type Error = BadField;

    fn try_from(r: pb::StartMaintenanceRequest) -> Result<Self, BadField> {
        let duration = match r.duration_ms {
            0 => None,
            ms if ms > MAX_MAINTENANCE.as_millis() as u64 => {
                return Err(BadField {
                    field: "duration_ms",
                    reason: format!(
                        "{ms} is more than the longest window ({} ms, 100 years)",
                        MAX_MAINTENANCE.as_millis()
                    ),
                });
            }
            ms => Some(Duration::from_millis(ms)),
        };
        let mode = match r.mode.as_str() {
            "" => MaintenanceMode::Pause,
            mode => mode.parse().map_err(|_| BadField {
                field: "mode",
                reason: format!("{mode:?} is not a maintenance mode (pause or mute)"),
            })?,
        };
        Ok(StartMaintenance {
            equipment: id("equipment", r.equipment)?.into(),
            duration,
            reason: r.reason,
            mode,
        })
    }
}

/// The longest note a client may write: [`limits::MAX_NOTE_BYTES`].
pub const MAX_NOTE_BYTES: usize = limits::MAX_NOTE_BYTES;

/// A note field, checked for length; `required` refuses an empty one.
fn note(field: &'static str, text: String, required: bool) -> Result<String, BadField> {
    if required && text.trim().is_empty() {
        return Err(BadField {
            field,
            reason: "empty note".to_owned(),
        });
    }
    if text.len() > MAX_NOTE_BYTES {
        return Err(BadField {
            field,
            reason: format!("{} bytes, at most {MAX_NOTE_BYTES}", text.len()),
        });
    }
    Ok(text)
}

/// `CloseRequest`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    pub id: RequestId,
    /// `None`: the standard closing note.
    pub note: Option<String>,
}

impl TryFrom<pb::CloseRequestRequest> for CloseRequest {
    type Error = BadField;

    fn try_from(r: pb::CloseRequestRequest) -> Result<Self, BadField> {
        let text = note("note", r.note, false)?;
        Ok(CloseRequest {
            id: r.id.into(),
            note: (!text.trim().is_empty()).then_some(text),
        })
    }
}

/// `AddRequestNote`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddNote {
    pub id: RequestId,
    pub text: String,
}

impl TryFrom<pb::AddRequestNoteRequest> for AddNote {
    type Error = BadField;

    fn try_from(r: pb::AddRequestNoteRequest) -> Result<Self, BadField> {
        Ok(AddNote {
            id: r.id.into(),
            text: note("text", r.text, true)?,
        })
    }
}

/// The longest name an acknowledgement may carry.
pub const MAX_ACK_BY_BYTES: usize = 256;

/// `AcknowledgeRequest`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledge {
    pub id: RequestId,
    pub by: String,
    pub note: Option<String>,
}

impl TryFrom<pb::AcknowledgeRequestRequest> for Acknowledge {
    type Error = BadField;

    fn try_from(r: pb::AcknowledgeRequestRequest) -> Result<Self, BadField> {
        let by = r.by.trim().to_owned();
        if by.is_empty() || by.len() > MAX_ACK_BY_BYTES {
            return Err(BadField {
                field: "by",
                reason: format!(
                    "{} bytes: who acknowledges must be 1 to {MAX_ACK_BY_BYTES} bytes",
                    by.len()
                ),
            });
        }
        let text = note("note", r.note, false)?;
        Ok(Acknowledge {
            id: r.id.into(),
            by,
            note: (!text.trim().is_empty()).then_some(text),
        })
    }
}

/// `WatchEvents`' cursor: events with a larger sequence number follow. A
/// cursor past any storable sequence number waits for nothing.
pub fn after_seq(r: &pb::WatchEventsRequest) -> i64 {
    i64::try_from(r.after_seq).unwrap_or(i64::MAX)
}
