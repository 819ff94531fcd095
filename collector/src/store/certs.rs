//! Certificate expiry warnings: `service.cert_expiring` and the mark that a
//! certificate was warned about, written in one transaction.
//!
//! A certificate is identified by its service and `notAfter`; the mark's
//! primary key makes the event once per certificate, whichever agent saw
//! it and however often the collector restarted (migration 0005).

use super::{Result, Store, events::append_event};
use crate::domain::cert::days_left;
use crate::domain::{Event, ServiceSnapshot};

impl Store {
    /// Writes `service.cert_expiring` for `service`'s certificate valid
    /// until `not_after_ms`, unless one was written for it already: returns
    /// whether it wrote. The payload's `days_left` counts from now.
    pub async fn warn_cert_expiring(
        &self,
        service: &ServiceSnapshot,
        not_after_ms: i64,
    ) -> Result<bool> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let marked = sqlx::query(
            "INSERT INTO cert_warnings (service_id, not_after_ms, warned_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (service_id, not_after_ms) DO NOTHING",
        )
        .bind(service.id.as_str())
        .bind(not_after_ms)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        let event = Event::ServiceCertExpiring {
            service: service.clone(),
            not_after_ms,
            days_left: days_left(not_after_ms, now),
        };
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(true)
    }
}
