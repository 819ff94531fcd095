//! A lifecycle handle for tests of its senders: verdicts land in a
//! channel, nothing is stored.

use tokio::sync::mpsc;

use super::{LifecycleHandle, LifecycleMsg, ServiceVerdict};
use crate::store::StoreError;

impl LifecycleHandle {
    /// A handle whose verdicts land in the returned receiver (tests; a
    /// reconfiguration is answered at once, without a store).
    pub(crate) fn channel() -> (LifecycleHandle, mpsc::Receiver<ServiceVerdict>) {
        let (tx, mut inbox) = mpsc::channel(64);
        let (verdicts, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Some(msg) = inbox.recv().await {
                match msg {
                    LifecycleMsg::Verdict(v) => {
                        if verdicts.send(v).await.is_err() {
                            return;
                        }
                    }
                    LifecycleMsg::Reconfigure(r) => {
                        let _ = r.reply.send(Ok(()));
                    }
                    LifecycleMsg::CloseByHand(c) => {
                        let _ = c.reply.send(Err(StoreError::Stopped));
                    }
                }
            }
        });
        (LifecycleHandle { tx }, rx)
    }
}
