//! The reminder actor (leader-only): re-sends `request.reminder` for open,
//! unacknowledged requests every `remind_every` after they opened.
//!
//! It keeps no timer state of its own: each pass reads the open,
//! unacknowledged requests with the reminders they have had
//! ([`Store::reminder_candidates`]), computes when each cadence is due
//! ([`due::next_due`]: from the opening and the last one sent, both
//! stored), sends what is due ([`Store::send_reminder`], one transaction
//! each, which re-checks the request and the count), and sleeps until the
//! earliest next one, or at most the shortest cadence (a request opened
//! meanwhile is due no sooner). So restarts and failovers neither repeat
//! nor skip a reminder, and a collector down through several periods sends
//! one on its return. Cadences: the service's (or `[defaults]`' for agent
//! requests) `remind_every`, an event every subscribed webhook receives;
//! each webhook's own `remind_every`, outbox rows for it only. A new
//! configuration arrives through a `watch` ([`RemindersHandle::reconfigure`]).

pub mod due;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

pub use settings::RemindersSettings;

use crate::metrics::Metrics;
use crate::store::{ReminderCandidate, Store, StoreError};
use crate::time::Clock;

/// How long after a failed pass the next one runs.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Handle to the reminder actor; cheap to clone.
#[derive(Clone)]
pub struct RemindersHandle {
    settings: Arc<watch::Sender<RemindersSettings>>,
}

impl RemindersHandle {
    pub fn spawn(
        store: Store,
        settings: RemindersSettings,
        metrics: Arc<Metrics>,
        clock: Clock,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> RemindersHandle {
        let (tx, rx) = watch::channel(settings);
        let actor = Reminder {
            store,
            metrics,
            clock,
        };
        tasks.spawn(actor.run(rx, cancel));
        RemindersHandle {
            settings: Arc::new(tx),
        }
    }

    /// Cadences of a reloaded configuration, from the next pass (at once).
    pub fn reconfigure(&self, settings: RemindersSettings) {
        self.settings.send_replace(settings);
    }
}

struct Reminder {
    store: Store,
    metrics: Arc<Metrics>,
    clock: Clock,
}

impl Reminder {
    async fn run(
        self,
        mut settings: watch::Receiver<RemindersSettings>,
        cancel: CancellationToken,
    ) {
        loop {
            let current = settings.borrow_and_update().clone();
            let wake = match current.shortest() {
                None => None,
                Some(shortest) => {
                    let now = self.clock.now_ms();
                    let longest_wait = now.saturating_add(millis(shortest));
                    match self.pass(&current, now).await {
                        Ok(next) => Some(next.map_or(longest_wait, |n| n.min(longest_wait))),
                        Err(e) => {
                            warn!(error = %e, "reminders: pass failed; retrying");
                            Some(now.saturating_add(millis(RETRY_AFTER)))
                        }
                    }
                }
            };
            let sleep = async {
                match wake {
                    Some(at) => {
                        let wait = (at - self.clock.now_ms()).max(0);
                        tokio::time::sleep(Duration::from_millis(wait as u64)).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                changed = settings.changed() => {
                    if changed.is_err() {
                        // Handles gone: keep the last settings.
                        settings.mark_unchanged();
                    }
                }
                () = sleep => {}
            }
        }
    }

    /// Sends every reminder due at `now`; returns when the next one falls.
    async fn pass(&self, s: &RemindersSettings, now: i64) -> Result<Option<i64>, StoreError> {
        let mut next: Option<i64> = None;
        for c in self.store.reminder_candidates().await? {
            let own = s.every(c.service_id.as_ref()).map(|e| (None, e));
            let webhooks = s.webhooks.iter().map(|(w, e)| (Some(w.as_str()), *e));
            for (webhook, every) in own.into_iter().chain(webhooks) {
                let due = self.remind(&c, webhook, millis(every), now).await?;
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        Ok(next)
    }

    /// Sends `c`'s reminder of cadence `webhook` if it is due; returns
    /// when the next one is.
    async fn remind(
        &self,
        c: &ReminderCandidate,
        webhook: Option<&str>,
        every: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        let reminded = c.of(webhook);
        let due = due::next_due(c.opened_ms, every, reminded.map(|r| r.last_ms));
        if due > now {
            return Ok(due);
        }
        let sent = reminded.map_or(0, |r| r.sent);
        if let Some(number) = self.store.send_reminder(c.id, webhook, sent).await? {
            self.metrics.request_reminders.inc();
            debug!(request = %c.id, webhook, number, "reminder sent");
        }
        Ok(due::next_due(c.opened_ms, every, Some(now)))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
