//! Closing a request by hand (`CloseRequest`), in domain terms: refused
//! when the request is unknown or already closed, else handed to the
//! evaluator (so that the service's tracker holds back a new request until
//! it recovers) and on to the lifecycle, which writes the close. Notes
//! (`AddRequestNote`) go straight to the store.

use super::convert::CloseRequest;
use super::{ApiError, PicketApi};
use crate::domain::texts::MANUAL_CLOSE_NOTE;
use crate::domain::{Request, Stage};
use crate::store::StoreError;

impl PicketApi {
    /// Closes `args.id` by hand with its note (or the standard one).
    pub(super) async fn close_by_hand(&self, args: CloseRequest) -> Result<Request, ApiError> {
        let request = self.store.get_request(args.id).await?;
        if request.stage != Stage::Open {
            return Err(StoreError::AlreadyClosed(args.id).into());
        }
        let note = args.note.unwrap_or_else(|| MANUAL_CLOSE_NOTE.to_owned());
        Ok((self.leading()?.evaluator)
            .close_by_hand(args.id, request.service_id, note)
            .await?)
    }
}
