//! A service's request as its state changes: down opens one (unless
//! open), up closes it, each in one transaction with its events.

use sqlx::AnyConnection;

use super::{
    EventSettings, Opened, Result, Store, Subject, append_event, close_open_of, open_of,
    open_with_event,
};
use crate::domain::{CloseReason, Event, NewRequest, Request, ServiceSnapshot};

impl Store {
    /// Marks `service` down and opens `new` unless the service already has
    /// an open request, in one transaction with the `service.down` and
    /// `request.opened` events.
    pub async fn service_down(
        &self,
        service: &ServiceSnapshot,
        new: &NewRequest,
    ) -> Result<Opened> {
        let now = self.clock.now_ms();
        let subject = Subject::Service(&service.id);
        let mut tx = self.begin().await?;
        let (outcome, id, last) = match open_of(&mut tx, subject).await? {
            // `service.down` announces an outage once: a service that comes
            // back to `down` while its request is still open (after
            // maintenance, or after losing its agents) is the same outage.
            Some(id) => (Opened::Existing(id), id, None),
            None => {
                let down = Event::ServiceDown(service.clone());
                append_event(&mut tx, &self.routes(), &down, now).await?;
                let (req, seq) =
                    open_with_event(&mut tx, &self.routes(), subject, new, None, now).await?;
                let id = req.id;
                (Opened::New(Box::new(req)), id, Some(seq))
            }
        };
        sqlx::query("UPDATE services SET state = 'down', state_since_ms = $1, open_request_id = $2 WHERE id = $3")
            .bind(now)
            .bind(id.get())
            .bind(service.id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.published(last);
        Ok(outcome)
    }

    /// Marks `service` up; closes its open request (if any) with a note by
    /// `picket`, clears the link, and writes `service.up` (when it was down)
    /// and `request.closed`, in one transaction. Returns the closed request.
    pub async fn service_up(
        &self,
        service: &ServiceSnapshot,
        was_down: bool,
        note: &str,
    ) -> Result<Option<Request>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let mut last = marked_up(&mut tx, &self.routes(), service, was_down, now).await?;
        let closed = close_open_of(
            &mut tx,
            &self.routes(),
            Subject::Service(&service.id),
            CloseReason::Recovered,
            note,
            now,
        )
        .await?;
        let closed = closed.map(|(req, seq)| {
            last = Some(seq);
            req
        });
        tx.commit().await?;
        self.published(last);
        Ok(closed)
    }
}

/// Marks `service` up with no open request, and writes `service.up` when
/// it was down; returns that event's seq.
pub(in crate::store) async fn marked_up(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    service: &ServiceSnapshot,
    was_down: bool,
    now_ms: i64,
) -> Result<Option<i64>> {
    sqlx::query(
        "UPDATE services SET state = 'up', state_since_ms = $1, open_request_id = NULL WHERE id = $2",
    )
    .bind(now_ms)
    .bind(service.id.as_str())
    .execute(&mut *conn)
    .await?;
    if !was_down {
        return Ok(None);
    }
    let up = Event::ServiceUp(service.clone());
    Ok(Some(append_event(conn, settings, &up, now_ms).await?))
}
