//! `requests [--open]` and `request ID`: maintenance requests and their
//! notes; `requests close ID [--note TEXT]`, `requests note ID TEXT` and
//! `requests ack ID [--note TEXT] [--by NAME]`: the admin's hand on them.

use clap::Subcommand;
use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::pages::{self, Paging};
use crate::{convert, render};

/// Which requests `requests` lists.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Filter {
    /// Only open ones.
    #[arg(long)]
    pub open: bool,
    /// Only this service's.
    #[arg(long, value_name = "ID")]
    pub service: Option<String>,
    /// Only those about this equipment.
    #[arg(long, value_name = "ID")]
    pub equipment: Option<String>,
}

/// What `requests` does besides listing.
#[derive(Subcommand, Clone)]
pub enum Action {
    /// Close an open request by hand (close reason "manual").
    Close {
        id: i64,
        /// The closing note (default: "closed by hand").
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Add a note to a request (open or closed).
    Note { id: i64, text: String },
    /// Acknowledge an open request: records who and when, and stops its
    /// reminders.
    Ack {
        id: i64,
        /// A note added by whoever acknowledges.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Who acknowledges (default: $USER, else "picketctl").
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
}

/// Who acknowledges when `--by` is not given: `$USER`, else `picketctl`.
fn default_acker() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "picketctl".to_owned())
}

/// `requests`: all requests (or those of the filter; page after page, up
/// to `--limit`), as a table or a JSON list.
pub async fn list(
    client: &mut Client,
    filter: Filter,
    paging: Paging,
    json: bool,
) -> anyhow::Result<String> {
    let request = pb::ListRequestsRequest {
        open_only: filter.open,
        service: filter.service.unwrap_or_default(),
        equipment: filter.equipment.unwrap_or_default(),
        ..Default::default()
    };
    let requests = pages::all(client, paging, request).await?;
    render::list(
        requests.iter().map(convert::request),
        &render::REQUESTS,
        json,
    )
}

/// `request ID`: one request's fields, notes included.
pub async fn show(client: &mut Client, id: i64, json: bool) -> anyhow::Result<String> {
    let request = answer(client.get_request(pb::GetRequestRequest { id })).await?;
    render::object(&convert::request(&request), json)
}

/// `requests close|note|ack ID …`: the request as it is afterwards.
pub async fn act(client: &mut Client, action: Action, json: bool) -> anyhow::Result<String> {
    let request = match action {
        Action::Close { id, note } => {
            let note = note.unwrap_or_default();
            answer(client.close_request(pb::CloseRequestRequest { id, note })).await?
        }
        Action::Note { id, text } => {
            answer(client.add_request_note(pb::AddRequestNoteRequest { id, text })).await?
        }
        Action::Ack { id, note, by } => {
            let by = by.unwrap_or_else(default_acker);
            let note = note.unwrap_or_default();
            answer(client.acknowledge_request(pb::AcknowledgeRequestRequest { id, by, note }))
                .await?
        }
    };
    render::object(&convert::request(&request), json)
}
