//! Requests closed by hand (`CloseRequest`): the evaluator tells the
//! service's tracker first (it must not open a new request before the
//! service recovers), then hands the close to the lifecycle, which takes
//! it after every verdict already queued and answers the caller.

use tokio::sync::oneshot;

use super::{EvaluatorActor, EvaluatorHandle, Msg};
use crate::domain::{Request, RequestId, ServiceId};
use crate::lifecycle::CloseByHand;
use crate::store::StoreError;

/// A request to close by hand, and whose it is.
pub(super) struct Close {
    request: RequestId,
    /// The service of a corrective request (none for an agent's).
    service: Option<ServiceId>,
    note: String,
    reply: oneshot::Sender<Result<Request, StoreError>>,
}

impl EvaluatorHandle {
    /// Closes `request` (of `service`, if a service's) by hand with `note`
    /// by `admin`: the service's tracker holds back a new request until
    /// the service recovers. Answers the closed request, or the store's
    /// refusal (`AlreadyClosed`, `NotFound`).
    pub async fn close_by_hand(
        &self,
        request: RequestId,
        service: Option<ServiceId>,
        note: String,
    ) -> Result<Request, StoreError> {
        let (reply, rx) = oneshot::channel();
        let close = Close {
            request,
            service,
            note,
            reply,
        };
        self.tx
            .send(Msg::CloseByHand(close))
            .await
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }
}

impl EvaluatorActor {
    pub(super) async fn close_by_hand(&mut self, close: Close) {
        if let Some(service) = &close.service
            && let Some((tracker, _)) = self.trackers.get_mut(service)
        {
            tracker.closed_by_hand();
        }
        self.lifecycle
            .close_by_hand(CloseByHand {
                request: close.request,
                note: close.note,
                reply: close.reply,
            })
            .await;
    }
}
