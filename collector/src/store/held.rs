//! Outages a mute maintenance window holds back (`services.held_since_ms`).
//!
//! While a `mute` window runs on its equipment, a service that goes down
//! without an open request is stored `down` and its `service.down` is
//! written to the event log with no webhook outbox rows; it is marked held
//! since then. A held service that recovers is stored `up` (its
//! `service.up` also unrouted) and is no longer held. When the window
//! ends, [`Store::release_held`] opens the request of each held service
//! still down (`request.opened`, routed as usual). A service with a
//! request opened before the window goes through the usual
//! `service_down` / `service_up` paths (its request closes normally).

use sqlx::Row;

use super::events::append_unrouted;
use super::requests::{Subject, open_of, open_with_event};
use super::{Opened, Result, Store, named, text_id};
use crate::domain::{
    EquipmentId, Event, NewRequest, Request, ServiceId, ServiceSnapshot, ServiceState,
};

/// A service whose outage a mute window holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldService {
    pub id: ServiceId,
    pub equipment: EquipmentId,
    /// When the hold began.
    pub since_ms: i64,
}

impl Store {
    /// `service` went down while a mute window runs on its equipment.
    /// `Some`: it had an open request, and this was [`Store::service_down`]
    /// (linked to that request). `None`: held (see the module doc).
    pub async fn hold_down(
        &self,
        service: &ServiceSnapshot,
        new: &NewRequest,
    ) -> Result<Option<Opened>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        if open_of(&mut tx, Subject::Service(&service.id))
            .await?
            .is_some()
        {
            drop(tx);
            return self.service_down(service, new).await.map(Some);
        }
        let seq = append_unrouted(&mut tx, &Event::ServiceDown(service.clone()), now).await?;
        sqlx::query(
            "UPDATE services SET state = 'down', state_since_ms = $1, held_since_ms = COALESCE(held_since_ms, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(service.id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(None)
    }

    /// `service` came back up while a mute window runs on its equipment:
    /// with an open request this is [`Store::service_up`] (the request
    /// closes as usual); otherwise it is stored `up`, no longer held, and
    /// its `service.up` (when it was down) goes to the log only.
    pub async fn hold_up(
        &self,
        service: &ServiceSnapshot,
        was_down: bool,
        note: &str,
    ) -> Result<Option<Request>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        if open_of(&mut tx, Subject::Service(&service.id))
            .await?
            .is_some()
        {
            drop(tx);
            return self.service_up(service, was_down, note).await;
        }
        sqlx::query(
            "UPDATE services SET state = 'up', state_since_ms = $1, held_since_ms = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(service.id.as_str())
        .execute(&mut *tx)
        .await?;
        let mut last = None;
        if was_down {
            let up = Event::ServiceUp(service.clone());
            last = Some(append_unrouted(&mut tx, &up, now).await?);
        }
        tx.commit().await?;
        self.published(last);
        Ok(None)
    }

    /// An event about a muted service, written to the log only.
    pub async fn record_unrouted(&self, event: &Event) -> Result<i64> {
        let mut tx = self.begin().await?;
        let seq = append_unrouted(&mut tx, event, self.clock.now_ms()).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(seq)
    }

    /// Every held service, by id.
    pub async fn held_services(&self) -> Result<Vec<HeldService>> {
        sqlx::query(
            "SELECT id, equipment_id, held_since_ms FROM services WHERE held_since_ms IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            Ok(HeldService {
                id: text_id(r, "id")?,
                equipment: text_id(r, "equipment_id")?,
                since_ms: r.try_get("held_since_ms")?,
            })
        })
        .collect()
    }

    /// Ends the hold of `service` (its mute window ended): when it is still
    /// `down` with no open request, opens `new` with `request.opened` and
    /// its webhooks, and returns it. The mark is cleared either way (`new`
    /// is `None` for a service no longer configured: nothing opens).
    pub async fn release_held(
        &self,
        service: &ServiceId,
        new: Option<&NewRequest>,
    ) -> Result<Option<Request>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT state, held_since_ms FROM services WHERE id = $1")
            .bind(service.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.try_get::<Option<i64>, _>("held_since_ms")?.is_none() {
            return Ok(None);
        }
        let state: ServiceState = named(&row, "services", "state")?;
        sqlx::query("UPDATE services SET held_since_ms = NULL WHERE id = $1")
            .bind(service.as_str())
            .execute(&mut *tx)
            .await?;
        let subject = Subject::Service(service);
        let mut opened = None;
        if let Some(new) = new
            && state == ServiceState::Down
            && open_of(&mut tx, subject).await?.is_none()
        {
            let (req, seq) =
                open_with_event(&mut tx, &self.routes(), subject, new, None, now).await?;
            sqlx::query("UPDATE services SET open_request_id = $1 WHERE id = $2")
                .bind(req.id.get())
                .bind(service.as_str())
                .execute(&mut *tx)
                .await?;
            opened = Some((req, seq));
        }
        tx.commit().await?;
        self.published(opened.as_ref().map(|(_, seq)| *seq));
        Ok(opened.map(|(req, _)| req))
    }
}

#[cfg(test)]
mod tests;
