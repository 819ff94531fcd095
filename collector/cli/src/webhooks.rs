//! `webhooks` and `deliveries [--failed] [--webhook NAME] [--limit N]`: the
//! webhook receivers with their outbox counts and whether they are disabled
//! (after a 410 Gone), and the deliveries with attempts and last error.

use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::pages::{self, Paging};
use crate::{convert, render};

/// `webhooks`: every configured receiver, as a table or a JSON list.
pub async fn list(client: &mut Client, json: bool) -> anyhow::Result<String> {
    let webhooks = answer(client.list_webhooks(pb::ListWebhooksRequest {})).await?;
    let values = webhooks.webhooks.iter().map(convert::webhook);
    render::list(values, &render::WEBHOOKS, json)
}

/// `deliveries`: newest first, page after page up to `--limit`; `failed`
/// keeps those whose last attempt failed (retrying or given up), `webhook`
/// one receiver's.
pub async fn deliveries(
    client: &mut Client,
    failed: bool,
    webhook: Option<String>,
    paging: Paging,
    json: bool,
) -> anyhow::Result<String> {
    let request = pb::ListDeliveriesRequest {
        failed_only: failed,
        webhook: webhook.unwrap_or_default(),
        ..Default::default()
    };
    let deliveries = pages::all(client, paging, request).await?;
    let values = deliveries.iter().map(convert::delivery);
    render::list(values, &render::DELIVERIES, json)
}
