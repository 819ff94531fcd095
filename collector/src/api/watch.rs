//! `WatchEvents`' tail: committed events after a cursor, then each new
//! commit as the store announces it, in domain rows.
//!
//! The tail is its own task, on the collector's task tracker, feeding a
//! bounded channel; it ends when the client goes away (the receiver is
//! dropped), the store fails (the error is the last item) or the collector
//! shuts down (the stream ends).
//!
//! A standby commits nothing, so nothing announces the leader's events to
//! it: its tails also look every [`STANDBY_POLL`].

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::{EventRow, Store, StoreError};

/// Events read from the store at a time.
const BATCH: i64 = 500;
/// Events queued for a slow client before the tail waits for it.
const CAPACITY: usize = 256;
/// How often a standby's tail reads the store for new events.
pub const STANDBY_POLL: Duration = Duration::from_secs(1);

/// The events after sequence number `after`, until `cancel` fires; new
/// ones as this store commits them, and, with `poll`, every `poll` too.
pub fn tail(
    store: Store,
    mut after: i64,
    poll: Option<Duration>,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> ReceiverStream<Result<EventRow, StoreError>> {
    let mut committed = store.subscribe_events();
    let (tx, rx) = mpsc::channel(CAPACITY);
    tasks.spawn(async move {
        loop {
            committed.borrow_and_update();
            let batch = match store.events_after(after, BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let full = batch.len() as i64 == BATCH;
            for e in batch {
                after = e.seq;
                // A slow client never holds up shutdown.
                tokio::select! {
                    sent = tx.send(Ok(e)) => if sent.is_err() { return },
                    () = cancel.cancelled() => return,
                }
            }
            if full {
                continue;
            }
            let looked = async {
                match poll {
                    Some(every) => tokio::time::sleep(every).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = committed.changed() => if changed.is_err() { return },
                () = looked => {}
                () = tx.closed() => return,
                () = cancel.cancelled() => return,
            }
        }
    });
    ReceiverStream::new(rx)
}
