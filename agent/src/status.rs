//! What the service manager asks of a running agent: has its first
//! connection attempt finished (systemd's `READY=1`, whether or not it
//! connected: an agent keeps retrying on its own), and are its actors still
//! running (the `WatchdogSec` feed: the scheduler actor's channel is open;
//! the link actor runs inside [`crate::run`], which returns if it ends).

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use crate::scheduler::SchedulerHandle;

/// Shared between the agent and whoever supervises it; clone freely.
#[derive(Clone)]
pub struct Status {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` until the first attempt ends; then whether the last one
    /// reached Welcome.
    connected: watch::Sender<Option<bool>>,
    scheduler: OnceLock<SchedulerHandle>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            inner: Arc::new(Inner {
                connected: watch::Sender::new(None),
                scheduler: OnceLock::new(),
            }),
        }
    }
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("connected", &*self.inner.connected.borrow())
            .finish()
    }
}

impl Status {
    /// A connection attempt ended: welcomed or not.
    pub(crate) fn attempted(&self, welcomed: bool) {
        self.inner.connected.send_replace(Some(welcomed));
    }

    pub(crate) fn watch_scheduler(&self, scheduler: &SchedulerHandle) {
        let _ = self.inner.scheduler.set(scheduler.clone());
    }

    /// Waits for the end of the first connection attempt; whether it
    /// reached the collector.
    pub async fn first_attempt(&self) -> bool {
        let mut rx = self.inner.connected.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(connected) => connected.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The scheduler actor still runs.
    pub fn healthy(&self) -> bool {
        self.inner
            .scheduler
            .get()
            .is_some_and(SchedulerHandle::is_running)
    }
}
