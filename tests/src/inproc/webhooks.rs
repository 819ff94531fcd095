//! The harness's webhook reads: `ListWebhooks`, `ListDeliveries`, waits on
//! them, and the `/metrics` text, for the scenarios about delivery.

use super::{Harness, admin};
use picket_proto::v1 as api;

impl Harness {
    /// `ListWebhooks`: the receivers with their counts.
    pub async fn webhooks(&self) -> anyhow::Result<Vec<api::Webhook>> {
        let request = admin(api::ListWebhooksRequest {});
        Ok(self
            .client
            .clone()
            .list_webhooks(request)
            .await?
            .into_inner()
            .webhooks)
    }

    /// The receiver `name` as `ListWebhooks` shows it.
    pub async fn webhook(&self, name: &str) -> anyhow::Result<api::Webhook> {
        let all = self.webhooks().await?;
        all.into_iter()
            .find(|w| w.name == name)
            .ok_or_else(|| anyhow::anyhow!("no webhook {name} listed"))
    }

    /// `ListDeliveries` of `webhook` (newest first).
    pub async fn deliveries(&self, webhook: &str) -> anyhow::Result<Vec<api::Delivery>> {
        let request = admin(api::ListDeliveriesRequest {
            failed_only: false,
            webhook: webhook.into(),
            ..Default::default()
        });
        Ok(self
            .client
            .clone()
            .list_deliveries(request)
            .await?
            .into_inner()
            .deliveries)
    }

    /// Waits until the newest delivery of `webhook` satisfies `pred`.
    pub async fn wait_delivery(
        &self,
        webhook: &str,
        what: &str,
        pred: impl Fn(&api::Delivery) -> bool,
    ) -> anyhow::Result<api::Delivery> {
        self.wait_for(what, || async {
            let newest = self.deliveries(webhook).await?.into_iter().next();
            Ok(match newest {
                Some(d) if pred(&d) => Ok(d),
                other => Err(format!("{other:?}")),
            })
        })
        .await
    }
}
