//! `services` and `service ID`: the monitored services with their state.

use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::{convert, render};

/// `services`: every service, as a table or a JSON list.
pub async fn list(client: &mut Client, json: bool) -> anyhow::Result<String> {
    let services = answer(client.list_services(pb::ListServicesRequest {})).await?;
    let values = services.services.iter().map(convert::service);
    render::list(values, &render::SERVICES, json)
}

/// `service ID`: one service's fields.
pub async fn show(client: &mut Client, id: String, json: bool) -> anyhow::Result<String> {
    let service = answer(client.get_service(pb::GetServiceRequest { id })).await?;
    render::object(&convert::service(&service), json)
}
