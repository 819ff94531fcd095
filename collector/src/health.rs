//! What the service manager asks of a running collector: is it serving yet
//! (systemd's `READY=1`), and are its actors still answering (the
//! `WatchdogSec` feed). [`serve`](crate::run_supervised) marks it serving
//! once both listeners are served (a standby serves too: it answers reads
//! and `/readyz` says `standby`); once it leads, [`Health::check`] also
//! asks the agent registry (the actor every session and assignment goes
//! through) for its live set, so a stuck actor loop or runtime stops the
//! feed. It never touches the store: a slow database is `/readyz`'s
//! business, not a reason to restart.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::agents::AgentsHandle;

/// Shared between the collector and whoever supervises it; clone freely.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    serving: watch::Sender<bool>,
    agents: OnceLock<AgentsHandle>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            inner: Arc::new(Inner {
                serving: watch::Sender::new(false),
                agents: OnceLock::new(),
            }),
        }
    }
}

impl Health {
    pub(crate) fn serving(&self) {
        self.inner.serving.send_replace(true);
    }

    /// The collector leads: the watchdog asks `agents` from now on.
    pub(crate) fn leading(&self, agents: &AgentsHandle) {
        let _ = self.inner.agents.set(agents.clone());
    }

    pub(crate) fn stopping(&self) {
        self.inner.serving.send_replace(false);
    }

    /// Completes once the listeners are served.
    pub async fn wait_serving(&self) {
        let mut rx = self.inner.serving.subscribe();
        let _ = rx.wait_for(|serving| *serving).await;
    }

    /// Serving, and (once leading) the registry actor answers within
    /// `within`.
    pub async fn check(&self, within: Duration) -> bool {
        if !*self.inner.serving.borrow() {
            return false;
        }
        let Some(agents) = self.inner.agents.get() else {
            return true;
        };
        // The directory's sender lives in the registry actor: closed means
        // the actor is gone (then `live()` answers at once, empty).
        let running = || agents.directory().has_changed().is_ok();
        running() && tokio::time::timeout(within, agents.live()).await.is_ok() && running()
    }
}
