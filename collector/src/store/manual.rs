//! What a person does to a request through the admin API: close it by
//! hand (`close_reason = "manual"`) and add notes, both by `admin`.
//!
//! A manual close is one transaction: the stage, the note, the service's
//! link to the request cleared, and the `request.closed` event with its
//! webhook outbox rows. Telling the evaluator that the service must not
//! open a new request before it recovers is the caller's part.

use super::requests::{close_in, fetch_in, snapshot_in};
use super::{Result, Store, StoreError, events::append_event, text_id};
use crate::domain::texts::ADMIN_AUTHOR;
use crate::domain::{AgentId, CloseReason, Event, Request, RequestId, Stage};

impl Store {
    /// Closes open request `id` by hand with `note` by `admin`, clears the
    /// service's link to it and writes `request.closed`, in one
    /// transaction. [`StoreError::AlreadyClosed`] when it is not open,
    /// [`StoreError::NotFound`] when there is no such request.
    pub async fn close_request_by_hand(&self, id: RequestId, note: &str) -> Result<Request> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let current = fetch_in(&mut tx, id).await?;
        if current.stage != Stage::Open {
            return Err(StoreError::AlreadyClosed(id));
        }
        let Some(closed) =
            close_in(&mut tx, id, CloseReason::Manual, ADMIN_AUTHOR, note, now).await?
        else {
            return Err(StoreError::AlreadyClosed(id));
        };
        sqlx::query("UPDATE services SET open_request_id = NULL WHERE open_request_id = $1")
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        let event = Event::RequestClosed(snapshot_in(&mut tx, &self.routes(), &closed).await?);
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(closed)
    }

    /// Adds a note by `admin` to request `id`, open or closed; returns the
    /// request with its notes.
    pub async fn add_request_note(&self, id: RequestId, text: &str) -> Result<Request> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        fetch_in(&mut tx, id).await?;
        sqlx::query(
            "INSERT INTO request_notes (request_id, author, time_ms, text) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.get())
        .bind(ADMIN_AUTHOR)
        .bind(now)
        .bind(text)
        .execute(&mut *tx)
        .await?;
        let request = fetch_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Agents whose latest `[AGENT DOWN]` request was closed by hand and
    /// that have not been heard from since it opened: still dead, so the
    /// dead-man's switch must not open another before they come back.
    pub async fn agents_closed_by_hand_while_dead(&self) -> Result<Vec<AgentId>> {
        let rows = sqlx::query(
            "SELECT r.agent_id FROM requests r JOIN agents a ON a.id = r.agent_id \
             WHERE r.id = (SELECT MAX(id) FROM requests WHERE agent_id = r.agent_id) \
             AND r.close_reason = 'manual' \
             AND (a.last_seen_ms IS NULL OR a.last_seen_ms <= r.opened_ms)",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| text_id(r, "agent_id")).collect()
    }
}

#[cfg(test)]
mod tests;
