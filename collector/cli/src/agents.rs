//! `agents`, `agents approve ID`, `agents suspend ID`: the probing agents,
//! their liveness and host stats, and the admin actions on them.

use clap::Subcommand;
use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::{convert, render};

/// What `agents` does besides listing.
#[derive(Subcommand)]
pub enum Action {
    /// Let a new (or suspended) agent probe.
    Approve { id: String },
    /// Stop an agent from probing and alerting.
    Suspend { id: String },
}

/// `agents`: every agent, as a table or a JSON list.
pub async fn list(client: &mut Client, json: bool) -> anyhow::Result<String> {
    let agents = answer(client.list_agents(pb::ListAgentsRequest {})).await?;
    let values = agents.agents.iter().map(convert::agent);
    render::list(values, &render::AGENTS, json)
}

/// `agents approve|suspend ID`: the agent as it is afterwards.
pub async fn act(client: &mut Client, action: Action, json: bool) -> anyhow::Result<String> {
    let agent = match action {
        Action::Approve { id } => answer(client.approve_agent(pb::AgentRef { id })).await?,
        Action::Suspend { id } => answer(client.suspend_agent(pb::AgentRef { id })).await?,
    };
    render::object(&convert::agent(&agent), json)
}
