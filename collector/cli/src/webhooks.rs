//! `webhooks` and `deliveries [--failed] [--webhook NAME] [--limit N]`: the
//! webhook receivers with their outbox counts and whether they are disabled
//! (after a 410 Gone), and the deliveries with attempts and last error.

use picket_proto::v1 as pb;

use crate::client::{Client, answer};
use crate::pages::{Paging, collect};
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
    let deliveries = collect(paging, |page_token, page_size| {
        let mut client = client.clone();
        let request = pb::ListDeliveriesRequest {
            failed_only: failed,
            webhook: webhook.clone().unwrap_or_default(),
            limit: 0,
            page_size,
            page_token,
        };
        async move {
            let page = answer(client.list_deliveries(request)).await?;
            Ok((page.deliveries, page.next_page_token))
        }
    })
    .await?;
    let values = deliveries.iter().map(convert::delivery);
    render::list(values, &render::DELIVERIES, json)
}
