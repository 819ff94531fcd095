//! Retrying a store write the lifecycle cannot drop (a verdict, a run of
//! quiet verdicts) until it is stored or the collector shuts down.

use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use crate::backoff::Backoff;
use crate::store::StoreError;

/// A verdict is retried until it is stored, with a growing delay: dropping
/// it would lose a request or leave a wrong state.
pub(super) struct Retry {
    backoff: Backoff,
}

impl Retry {
    pub fn new() -> Retry {
        Retry {
            backoff: Backoff::default(),
        }
    }

    /// Logs `e` (what failed to be stored: `what()`) and waits before the
    /// next attempt; `false` at shutdown (nothing more is tried).
    pub async fn after(
        &mut self,
        e: &StoreError,
        cancel: &CancellationToken,
        what: impl FnOnce() -> String,
    ) -> bool {
        if cancel.is_cancelled() {
            error!(error = %e, "{} not stored at shutdown", what());
            return false;
        }
        warn!(error = %e, "cannot store {}; retrying", what());
        tokio::select! {
            () = tokio::time::sleep(self.backoff.delay()) => {}
            () = cancel.cancelled() => {}
        }
        true
    }
}
