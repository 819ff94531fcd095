//! `heartbeats [list]`, `heartbeats show ID`, `heartbeats approve ID`,
//! `heartbeats suspend ID`, `heartbeats token ID`: the push check-ins,
//! and the admin actions on them.

use clap::Subcommand;
use picket_proto::v1 as pb;
use serde_json::{Value, json};

use crate::client::{Client, answer};
use crate::pages::{self, Paging};
use crate::render::{self, Layout};

/// What `heartbeats` does (`list` when none is named).
#[derive(Subcommand, Clone)]
pub enum Action {
    /// List heartbeats (page after page, up to `--limit`).
    List {
        /// Only heartbeats in this state (new, active, suspended).
        #[arg(long)]
        state: Option<String>,
        /// Also before `list` (`heartbeats --limit N list`).
        #[command(flatten)]
        paging: Paging,
    },
    /// Show one heartbeat: liveness, last ping and stats, clone flag.
    Show { id: String },
    /// Let a registered (new) or suspended heartbeat alert.
    Approve { id: String },
    /// Stop a heartbeat from alerting; its token answers 404.
    Suspend { id: String },
    /// Issue a new token (shown once), ending the old one.
    Token { id: String },
}

/// `heartbeats`.
pub const HEARTBEATS: Layout = Layout::Table(&[
    render::field("ID", "id"),
    render::field("NAME", "name"),
    render::field("STATE", "state"),
    render::field("LIVENESS", "liveness"),
    render::field("PERIOD", "period"),
    render::field("LAST PING", "last_ping_at"),
    render::field("SOURCE", "last_source"),
    render::field("REQUEST", "open_request"),
    render::field("CLONED", "cloned"),
]);

/// A heartbeat with the contract's field names.
pub fn heartbeat(h: &pb::Heartbeat) -> Value {
    let text = |ms: u64| {
        picket_proto::contract::text::format_duration(std::time::Duration::from_millis(ms))
    };
    let stats: Value = serde_json::from_str(&h.last_stats_json).unwrap_or(Value::Null);
    json!({
        "id": h.id,
        "name": h.name,
        "state": h.state,
        "liveness": h.liveness,
        "period": text(h.period_ms),
        "grace": text(h.grace_ms),
        "equipment": (!h.equipment.is_empty()).then_some(&h.equipment),
        "last_ping_at": crate::convert::time(h.last_ping_at.as_ref()),
        "last_source": (!h.last_source.is_empty()).then_some(&h.last_source),
        "last_stats": stats,
        "late_since": crate::convert::time(h.late_since.as_ref()),
        "open_request": (h.open_request != 0).then_some(h.open_request),
        "cloned": h.cloned,
        "cloned_sources": h.cloned_sources,
    })
}

/// Runs `heartbeats ACTION`.
pub async fn run(
    client: &mut Client,
    action: Option<Action>,
    paging: Paging,
    json: bool,
) -> anyhow::Result<String> {
    let one = |id: String| pb::HeartbeatRef { id };
    let listed = Action::List {
        state: None,
        paging: Paging::default(),
    };
    let h = match action.unwrap_or(listed) {
        Action::List {
            state,
            paging: after,
        } => {
            let paging = after.or(paging);
            let request = pb::ListHeartbeatsRequest {
                state: state.unwrap_or_default(),
                ..Default::default()
            };
            let rows = pages::all(client, paging, request).await?;
            return render::list(rows.iter().map(heartbeat), &HEARTBEATS, json);
        }
        Action::Show { id } => answer(client.get_heartbeat(one(id))).await?,
        Action::Approve { id } => answer(client.approve_heartbeat(one(id))).await?,
        Action::Suspend { id } => answer(client.suspend_heartbeat(one(id))).await?,
        Action::Token { id } => {
            let t = answer(client.issue_heartbeat_token(one(id))).await?;
            return render::object(&json!({ "id": t.id, "token": t.token }), json);
        }
    };
    render::object(&heartbeat(&h), json)
}
