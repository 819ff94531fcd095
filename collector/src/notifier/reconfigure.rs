//! [`Notifier`]: the running delivery workers, one per webhook, and how a
//! reload changes them.
//!
//! A reload compares each webhook with the one its worker runs: an added
//! webhook gets a worker, a removed one's worker stops and its pending
//! rows are given up (`failed`, [`REMOVED_WEBHOOK_ERROR`]), a changed one (URL, secret, events, any
//! key) is stopped and started again, enabled. A worker whose webhook did
//! not change keeps running untouched, so a receiver disabled by a 410
//! stays disabled. The reload module owns the `Notifier`; nothing else
//! sends to it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::{NotifierError, Receivers, Worker, delivery, status};
use crate::config::WebhookConfig;
use crate::config::settings::NotifierSettings;
use crate::domain::texts::REMOVED_WEBHOOK_ERROR;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::time::Clock;

/// The running workers (see the module docs).
pub struct Notifier {
    pub(super) store: Store,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: Clock,
    /// The collector's token; each worker runs on a child of it.
    pub(super) cancel: CancellationToken,
    pub(super) tasks: TaskTracker,
    pub(super) receivers: Receivers,
    /// Where workers publish that their receiver is disabled.
    pub(super) disabled: status::DisabledTx,
    /// Each worker's webhook and the token that stops it, in file order.
    pub(super) workers: Vec<(WebhookConfig, CancellationToken)>,
}

impl Notifier {
    /// What the API shows: the receivers and which are disabled.
    pub fn receivers(&self) -> Receivers {
        self.receivers.clone()
    }

    /// Starts a worker for `webhook`, enabled.
    pub(super) fn start(&mut self, webhook: WebhookConfig) -> Result<(), NotifierError> {
        let client = delivery::client(&webhook)?;
        self.metrics.webhook_disabled(&webhook.name, false);
        self.disabled.send_modify(|d| {
            d.remove(&webhook.name);
        });
        let stop = self.cancel.child_token();
        let worker = Worker {
            client,
            store: self.store.clone(),
            webhook: webhook.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
            disabled: self.disabled.clone(),
        };
        self.tasks.spawn(worker.run(stop.clone()));
        self.workers.push((webhook, stop));
        Ok(())
    }

    /// Follows `settings` (a reload): starts, stops and restarts only the
    /// workers whose webhook was added, removed or changed.
    pub fn reconfigure(&mut self, settings: &NotifierSettings) {
        let mut kept = Vec::new();
        for (webhook, stop) in std::mem::take(&mut self.workers) {
            if settings.webhooks.contains(&webhook) {
                kept.push((webhook, stop));
                continue;
            }
            stop.cancel();
            self.disabled.send_modify(|d| {
                d.remove(&webhook.name);
            });
            self.metrics.webhooks_disabled.remove(&[&webhook.name]);
            let changed = settings.webhooks.iter().any(|w| w.name == webhook.name);
            info!(webhook = %webhook.name, changed, "webhook worker stopped by a reload");
        }
        self.workers = kept;
        for webhook in &settings.webhooks {
            if self.workers.iter().any(|(w, _)| w == webhook) {
                continue;
            }
            let name = webhook.name.clone();
            match self.start(webhook.clone()) {
                Ok(()) => info!(webhook = %name, "webhook worker started by a reload"),
                Err(e) => warn!(webhook = %name, error = %e, "cannot start the webhook worker"),
            }
        }
        // File order, for ListWebhooks.
        self.workers.sort_by_key(|(w, _)| {
            settings
                .webhooks
                .iter()
                .position(|x| x.name == w.name)
                .unwrap_or(usize::MAX)
        });
        self.receivers.set_configured(&settings.webhooks);
        self.abandon_unconfigured(settings);
    }

    /// Gives up, in the background, the pending deliveries of receivers
    /// that `settings` no longer lists (`Store::abandon_deliveries_except`):
    /// nothing would ever send them, and they would keep their events past
    /// retention. Run at start and by each reload.
    pub(super) fn abandon_unconfigured(&self, settings: &NotifierSettings) {
        let names: Vec<String> = settings.webhooks.iter().map(|w| w.name.clone()).collect();
        let store = self.store.clone();
        let now = self.clock.now_ms();
        self.tasks.spawn(async move {
            match store
                .abandon_deliveries_except(&names, REMOVED_WEBHOOK_ERROR, now)
                .await
            {
                Ok(0) => {}
                Ok(n) => info!(
                    deliveries = n,
                    "pending deliveries of removed webhooks given up"
                ),
                Err(e) => warn!(error = %e, "cannot give up the deliveries of removed webhooks"),
            }
        });
    }
}
