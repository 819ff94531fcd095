//! `Notifier`: delivers the webhook outbox.
//!
//! One worker task per configured webhook, so a slow or dead receiver
//! delays only itself. A worker wakes when events are committed or when
//! its next retry is due, claims its due rows oldest first, POSTs them
//! (`delivery.rs`), and records the outcome in the store: delivered, retry
//! later with exponential backoff and jitter, or given up (after
//! `retry_for`, or on `410 Gone`). Rows are written by the store in the
//! event's transaction; this module only reads and updates them.
//!
//! Settings: [`NotifierSettings`] (the webhooks, one worker each).

mod delivery;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::WebhookConfig;
use crate::config::settings::NotifierSettings;
use crate::store::Store;
use crate::time::Clock;
pub use delivery::{Outcome, sign};

/// Longest a worker sleeps without looking at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error("webhook TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error("webhook HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Spawns one delivery worker per webhook.
pub fn spawn(
    store: Store,
    settings: NotifierSettings,
    clock: Clock,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), NotifierError> {
    for webhook in &settings.webhooks {
        let client = delivery::client(webhook)?;
        tasks.spawn(worker(
            store.clone(),
            webhook.clone(),
            client,
            clock.clone(),
            cancel.clone(),
        ));
    }
    Ok(())
}

async fn worker(
    store: Store,
    webhook: WebhookConfig,
    client: reqwest::Client,
    clock: Clock,
    cancel: CancellationToken,
) {
    let mut committed = store.subscribe_events();
    loop {
        committed.borrow_and_update();
        let due = match store
            .due_deliveries(&webhook.name, clock.now_ms(), 20)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                warn!(webhook = %webhook.name, error = %e, "cannot read the outbox");
                Vec::new()
            }
        };
        for d in &due {
            if cancel.is_cancelled() {
                return;
            }
            let outcome = delivery::deliver(&client, &webhook, d, clock.now_ms()).await;
            let now = clock.now_ms();
            let recorded = match &outcome {
                Outcome::Delivered(status) => {
                    info!(webhook = %webhook.name, msg_id = %d.msg_id, status, "webhook delivered");
                    store.delivery_succeeded(d.id, now).await
                }
                Outcome::Failed { error, gone } => {
                    let retry = if *gone {
                        None
                    } else {
                        next_attempt(&webhook, d.attempts, d.first_attempt_ms.unwrap_or(now), now)
                    };
                    match retry {
                        Some(at) => {
                            warn!(webhook = %webhook.name, msg_id = %d.msg_id, error = %error, retry_in_ms = at - now, "webhook attempt failed")
                        }
                        None => {
                            warn!(webhook = %webhook.name, msg_id = %d.msg_id, error = %error, "webhook delivery given up")
                        }
                    }
                    store.delivery_failed(d.id, now, error, retry).await
                }
            };
            if let Err(e) = recorded {
                warn!(webhook = %webhook.name, error = %e, "cannot record a delivery outcome");
            }
        }
        if due.len() == 20 {
            continue;
        }
        let wait = match store.next_delivery_due(&webhook.name).await {
            Ok(Some(at)) => Duration::from_millis(
                (at - clock.now_ms()).clamp(0, IDLE_POLL.as_millis() as i64) as u64,
            ),
            _ => IDLE_POLL,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = committed.changed() => if changed.is_err() { return },
            () = cancel.cancelled() => return,
        }
    }
}

/// When to try again after `attempts` failed attempts (before this one),
/// or `None` once `retry_for` has passed since the first attempt.
pub fn next_attempt(
    w: &WebhookConfig,
    attempts: i64,
    first_attempt_ms: i64,
    now_ms: i64,
) -> Option<i64> {
    let exp = 2u32.saturating_pow(attempts.clamp(0, 30) as u32);
    let base = w
        .retry_initial
        .saturating_mul(exp)
        .min(w.retry_max_interval);
    let jitter = rand::random_range(0.8..1.2);
    let delay = base.mul_f64(jitter).as_millis() as i64;
    let at = now_ms + delay;
    (at - first_attempt_ms <= w.retry_for.as_millis() as i64).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook() -> WebhookConfig {
        WebhookConfig {
            name: "ops".into(),
            url: "http://127.0.0.1:1/".into(),
            events: vec![],
            basic_auth: None,
            secret: None,
            timeout: Duration::from_secs(15),
            retry_initial: Duration::from_secs(5),
            retry_max_interval: Duration::from_secs(3600),
            retry_for: Duration::from_secs(24 * 3600),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_caps_and_gives_up() {
        let w = webhook();
        for (attempts, base_ms) in [
            (0i64, 5_000i64),
            (1, 10_000),
            (2, 20_000),
            (10, 3_600_000),
            (40, 3_600_000),
        ] {
            let at = next_attempt(&w, attempts, 0, 0).expect("within retry_for");
            assert!(
                (base_ms * 8 / 10..=base_ms * 12 / 10).contains(&at),
                "attempt {attempts}: {at} vs {base_ms}"
            );
        }
        let day = 24 * 3600 * 1000;
        assert_eq!(next_attempt(&w, 3, 0, day), None, "past retry_for");
    }
}
