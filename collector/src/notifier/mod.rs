//! `Notifier`: delivers the webhook outbox.
//!
//! One worker task per configured webhook, so a slow or dead receiver
//! delays only itself. A worker wakes when events are committed or when
//! its next retry is due, claims its due rows oldest first, POSTs them
//! (`delivery.rs`), and records the outcome in the store: delivered, retry
//! later (`schedule.rs`: exponential backoff with jitter, not before a
//! 429/503's `Retry-After`), or given up after `retry_for`. A `410 Gone`
//! disables the receiver: the worker records that attempt as failed (the
//! row stays pending), publishes the receiver as disabled (`status.rs`,
//! read by the API), sets `picket_webhook_disabled{webhook}`, records a
//! `webhook.disabled` event, and attempts nothing more until the collector
//! restarts; its rows wait, pending, and are delivered after the restart.
//! Rows are written by the store in the event's transaction; this module
//! only reads and updates them.
//!
//! Settings: [`NotifierSettings`] (the webhooks, one worker each). A
//! reload starts, stops or restarts only the workers whose webhook was
//! added, removed or changed (`reconfigure.rs`).

mod delivery;
mod reconfigure;
mod schedule;
mod status;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::WebhookConfig;
use crate::config::settings::NotifierSettings;
use crate::domain::Event;
use crate::metrics::Metrics;
use crate::store::{Delivery, Store};
use crate::time::Clock;
pub use delivery::{Outcome, classify, sign};
pub use reconfigure::Notifier;
pub use schedule::{next_attempt, parse_retry_after};
pub use status::{Disabled, Receiver, Receivers};

/// Longest a worker sleeps without looking at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Rows claimed at a time.
const BATCH: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error("webhook TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error("webhook HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Spawns one delivery worker per webhook; returns the running notifier
/// (what the API shows of it: [`Notifier::receivers`]; what a reload
/// changes: [`Notifier::reconfigure`]).
pub fn spawn(
    store: Store,
    settings: NotifierSettings,
    metrics: Arc<Metrics>,
    clock: Clock,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> Result<Notifier, NotifierError> {
    let (receivers, disabled) = Receivers::new(&settings.webhooks);
    let mut notifier = Notifier {
        store,
        metrics,
        clock,
        cancel,
        tasks: tasks.clone(),
        receivers,
        disabled,
        workers: Vec::new(),
    };
    for webhook in &settings.webhooks {
        notifier.start(webhook.clone())?;
    }
    notifier.abandon_unconfigured(&settings);
    Ok(notifier)
}

/// One receiver's deliveries.
struct Worker {
    store: Store,
    webhook: WebhookConfig,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    clock: Clock,
    /// Where the worker publishes that its receiver is disabled.
    disabled: status::DisabledTx,
}

impl Worker {
    async fn run(self, cancel: CancellationToken) {
        let name = &self.webhook.name;
        let mut committed = self.store.subscribe_events();
        loop {
            committed.borrow_and_update();
            let now = self.clock.now_ms();
            let due = match self.store.due_deliveries(name, now, BATCH as i64).await {
                Ok(d) => d,
                Err(e) => {
                    warn!(webhook = %name, error = %e, "cannot read the outbox");
                    Vec::new()
                }
            };
            for d in &due {
                if cancel.is_cancelled() {
                    return;
                }
                if !self.attempt(d).await {
                    // Disabled: nothing more until a restart (or a reload
                    // changing this webhook) spawns a new worker.
                    cancel.cancelled().await;
                    return;
                }
            }
            if due.len() == BATCH {
                continue;
            }
            let next = self.store.next_delivery_due(name).await;
            // The wake-up is fixed against the instant the clock was read,
            // so time passing before the timer is armed is not added to it.
            let read_at = tokio::time::Instant::now();
            let wait = match next {
                Ok(Some(at)) => Duration::from_millis(
                    (at - self.clock.now_ms()).clamp(0, IDLE_POLL.as_millis() as i64) as u64,
                ),
                _ => IDLE_POLL,
            };
            tokio::select! {
                () = tokio::time::sleep_until(read_at + wait) => {}
                changed = committed.changed() => if changed.is_err() { return },
                () = cancel.cancelled() => return,
            }
        }
    }

    /// Attempts `d` once and records the outcome; `false` when the receiver
    /// answered 410 Gone and is now disabled.
    async fn attempt(&self, d: &Delivery) -> bool {
        let (w, store) = (&self.webhook, &self.store);
        let outcome = delivery::deliver(&self.client, w, d, self.clock.now_ms()).await;
        let now = self.clock.now_ms();
        let first = d.first_attempt_ms.unwrap_or(now);
        let (error, retry_after, gone) = match outcome {
            Outcome::Delivered(status) => {
                info!(webhook = %w.name, msg_id = %d.msg_id, status, "webhook delivered");
                self.metrics.webhook_delivery(&w.name, "delivered");
                if let Err(e) = store.delivery_succeeded(d.id, now).await {
                    warn!(webhook = %w.name, error = %e, "cannot record a delivery outcome");
                }
                return true;
            }
            Outcome::Failed { error, retry_after } => (error, retry_after, false),
            Outcome::Gone { error } => (error, None, true),
        };
        let retry = next_attempt(w, d.attempts, first, now, retry_after);
        let outcome = match (gone, retry) {
            (true, _) => "gone",
            (false, Some(at)) => {
                let retry_in_ms = at - now;
                warn!(webhook = %w.name, msg_id = %d.msg_id, error = %error, retry_in_ms, "webhook attempt failed");
                "failed"
            }
            (false, None) => {
                warn!(webhook = %w.name, msg_id = %d.msg_id, error = %error, "webhook delivery given up");
                "given_up"
            }
        };
        self.metrics.webhook_delivery(&w.name, outcome);
        if let Err(e) = store.delivery_failed(d.id, now, &error, retry).await {
            warn!(webhook = %w.name, error = %e, "cannot record a delivery outcome");
        }
        if gone {
            self.disable(error, now).await;
        }
        !gone
    }

    /// Marks the receiver disabled: published, counted, and an event.
    async fn disable(&self, reason: String, now: i64) {
        let name = &self.webhook.name;
        warn!(webhook = %name, reason = %reason, "webhook receiver disabled until the collector restarts; its deliveries stay pending");
        self.disabled.send_modify(|d| {
            d.insert(
                name.clone(),
                Disabled {
                    since_ms: now,
                    reason: reason.clone(),
                },
            );
        });
        self.metrics.webhook_disabled(name, true);
        let event = Event::WebhookDisabled {
            webhook: name.clone(),
            reason,
        };
        if let Err(e) = self.store.record_event(&event).await {
            warn!(webhook = %name, error = %e, "cannot record the webhook.disabled event");
        }
    }
}
