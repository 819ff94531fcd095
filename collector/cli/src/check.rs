//! `check SERVICE`: probe a service from all its live agents now.

use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::{convert, render};

/// Each agent's result, as a table or a JSON list.
pub async fn run(client: &mut Client, service: String, json: bool) -> anyhow::Result<String> {
    let outcomes = answer(client.check_now(pb::CheckNowRequest { service })).await?;
    let values = outcomes.results.iter().map(convert::check_result);
    render::list(values, &render::CHECKS, json)
}
