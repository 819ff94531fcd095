//! `agents`, `agents approve ID`, `agents suspend ID`, `agents mute ID
//! --for 1h [--note TEXT]`, `agents unmute ID`: the probing agents, their
//! liveness and host stats, and the admin actions on them.

use std::time::Duration;

use picket_proto::contract::text::parse_duration;

use clap::Subcommand;
use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::pages::{self, Paging};
use crate::{convert, render};

/// Which agents `agents` lists.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Filter {
    /// Only agents in this state (new, active, suspended).
    #[arg(long)]
    pub state: Option<String>,
    /// Only this region's agents.
    #[arg(long)]
    pub region: Option<String>,
}

/// What `agents` does besides listing.
#[derive(Subcommand, Clone)]
pub enum Action {
    /// Let a new (or suspended) agent probe.
    Approve { id: String },
    /// Stop an agent from probing and alerting.
    Suspend { id: String },
    /// Keep an agent probing but out of every quorum, for 1m to 30d.
    Mute {
        id: String,
        /// How long, e.g. 30m, 1h, 7d.
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Duration,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// End an agent's mute now.
    Unmute { id: String },
}

/// `agents`: every agent (page after page, up to `--limit`), as a table
/// or a JSON list.
pub async fn list(
    client: &mut Client,
    filter: Filter,
    paging: Paging,
    json: bool,
) -> anyhow::Result<String> {
    let request = pb::ListAgentsRequest {
        state: filter.state.unwrap_or_default(),
        region: filter.region.unwrap_or_default(),
        ..Default::default()
    };
    let agents = pages::all(client, paging, request).await?;
    render::list(agents.iter().map(convert::agent), &render::AGENTS, json)
}

/// `agents approve|suspend ID`: the agent as it is afterwards.
pub async fn act(client: &mut Client, action: Action, json: bool) -> anyhow::Result<String> {
    let agent = match action {
        Action::Approve { id } => answer(client.approve_agent(pb::AgentRef { id })).await?,
        Action::Suspend { id } => answer(client.suspend_agent(pb::AgentRef { id })).await?,
        Action::Mute { id, duration, note } => {
            let request = pb::MuteAgentRequest {
                id,
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                note,
            };
            answer(client.mute_agent(request)).await?
        }
        Action::Unmute { id } => answer(client.unmute_agent(pb::AgentRef { id })).await?,
    };
    render::object(&convert::agent(&agent), json)
}
