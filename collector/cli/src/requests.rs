//! `requests [--open]` and `request ID`: maintenance requests and their notes.

use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::{convert, render};

/// `requests`: all requests (or only open ones), as a table or a JSON list.
pub async fn list(client: &mut Client, open_only: bool, json: bool) -> anyhow::Result<String> {
    let requests = answer(client.list_requests(pb::ListRequestsRequest { open_only })).await?;
    let values = requests.requests.iter().map(convert::request);
    render::list(values, &render::REQUESTS, json)
}

/// `request ID`: one request's fields, notes included.
pub async fn show(client: &mut Client, id: i64, json: bool) -> anyhow::Result<String> {
    let request = answer(client.get_request(pb::GetRequestRequest { id })).await?;
    render::object(&convert::request(&request), json)
}
