//! Requests closed by hand through the API: queued behind the verdicts
//! the evaluator already sent, so a close and a verdict on the same
//! service are applied in the order they came.

use tokio::sync::oneshot;
use tracing::info;

use crate::domain::{Request, RequestId};
use crate::store::{Store, StoreError};

/// A request to close by hand, with the caller's reply.
pub(crate) struct CloseByHand {
    pub request: RequestId,
    pub note: String,
    pub reply: oneshot::Sender<Result<Request, StoreError>>,
}

/// Closes a request by hand; the id closed, if it was.
pub(super) async fn close_by_hand(store: &Store, close: CloseByHand) -> Option<RequestId> {
    let closed = store
        .close_request_by_hand(close.request, &close.note)
        .await;
    match &closed {
        Ok(req) => {
            info!(request = req.id.get(), service_id = ?req.service_id, agent_id = ?req.agent_id, "request closed by hand")
        }
        Err(e) => info!(request = close.request.get(), error = %e, "request not closed by hand"),
    }
    let id = closed.as_ref().ok().map(|r| r.id);
    let _ = close.reply.send(closed);
    id
}
