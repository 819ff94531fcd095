//! The heartbeat calls' edge: `ListHeartbeats` arguments and pages, and a
//! stored heartbeat as a `picket.v1.Heartbeat`.

use picket_proto::v1 as pb;

use super::super::paging::{Binding, List, page_size};
use super::lists::{choice, page};
use super::{BadField, id, timestamp};
use crate::domain::{HeartbeatId, HeartbeatState, RequestId};
use crate::store::HeartbeatRow;

/// `ListHeartbeats`' arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHeartbeats {
    pub state: Option<HeartbeatState>,
    pub size: usize,
    pub after: Option<HeartbeatId>,
    pub binding: Binding,
}

impl TryFrom<pb::ListHeartbeatsRequest> for ListHeartbeats {
    type Error = BadField;

    fn try_from(r: pb::ListHeartbeatsRequest) -> Result<Self, BadField> {
        let binding = Binding::new(List::Heartbeats, &[&r.state]);
        Ok(ListHeartbeats {
            state: choice("state", &r.state, HeartbeatState::ALL)?,
            size: page_size(r.page_size)?,
            after: binding
                .key(&r.page_token)?
                .map(|[id]: [String; 1]| HeartbeatId::from(id)),
            binding,
        })
    }
}

/// A page of heartbeats from up to `size + 1` rows.
pub fn heartbeats(args: &ListHeartbeats, rows: Vec<HeartbeatRow>) -> pb::ListHeartbeatsResponse {
    let rows = rows.into_iter().map(|h| (h.id.clone(), heartbeat(h)));
    let (heartbeats, next_page_token) = page(rows, args.size, false, |id| {
        args.binding.token(&[id.as_str()])
    });
    pb::ListHeartbeatsResponse {
        heartbeats,
        next_page_token,
    }
}

/// The `id` of a `HeartbeatRef`.
pub fn heartbeat_id(r: pb::HeartbeatRef) -> Result<HeartbeatId, BadField> {
    Ok(id("id", r.id)?.into())
}

pub fn heartbeat(h: HeartbeatRow) -> pb::Heartbeat {
    pb::Heartbeat {
        liveness: h.liveness().as_str().to_owned(),
        id: h.id.into(),
        name: h.name,
        state: h.state.as_str().to_owned(),
        period_ms: h.period_ms.max(0) as u64,
        grace_ms: h.grace_ms.max(0) as u64,
        equipment: h.equipment_id.map(Into::into).unwrap_or_default(),
        last_ping_at: h.last_ping_ms.map(timestamp),
        last_source: h.last_source.unwrap_or_default(),
        last_stats_json: h.last_stats.unwrap_or_default(),
        late_since: h.late_since_ms.map(timestamp),
        open_request: h.open_request.map_or(0, RequestId::get),
        cloned: h.cloned,
        cloned_sources: h.cloned_sources,
        configured: h.configured,
    }
}

/// A new token as `IssueHeartbeatToken` answers it.
pub fn heartbeat_token(id: HeartbeatId, token: String) -> pb::HeartbeatToken {
    pb::HeartbeatToken {
        id: id.into(),
        token,
    }
}
