//! Acknowledgement and reminders of open requests.
//!
//! Acknowledging (`AcknowledgeRequest`) stamps `acknowledged_ms` and
//! `acknowledged_by`, adds the note (if any) by the acknowledger, and
//! writes `request.acknowledged`, in one transaction; it is refused for a
//! closed or already acknowledged request. A reminder is one transaction
//! too: the count and time in `request_reminders` (per request and
//! cadence: `''` for the `request.reminder` event every subscribed webhook
//! receives, a webhook's name for that webhook's own reminders) and the
//! event, only while the request is open and unacknowledged and only if
//! no other reminder of that cadence was counted since the caller read
//! the count. When the next one is due is the caller's arithmetic
//! (`crate::reminders`) over what [`Store::reminder_candidates`] reads.

use sqlx::Row;

use super::events::{append_event, append_routed};
use super::requests::{fetch_in, note_in, snapshot_in};
use super::{Result, Store, StoreError, request_id, text_id_opt};
use crate::domain::{Event, Request, RequestId, ServiceId, Stage};
use crate::time::rfc3339;

/// The cadence key of the reminders every subscribed webhook receives.
const ALL: &str = "";

/// Reminders of one cadence sent so far for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminded {
    /// `None`: the `request.reminder` event for every subscribed webhook;
    /// a name: that webhook's own reminders.
    pub webhook: Option<String>,
    /// How many were sent (the last one's number).
    pub sent: i64,
    pub last_ms: i64,
}

/// An open, unacknowledged request, with the reminders it has had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderCandidate {
    pub id: RequestId,
    /// `None` for an agent's request.
    pub service_id: Option<ServiceId>,
    pub opened_ms: i64,
    pub reminded: Vec<Reminded>,
}

impl ReminderCandidate {
    /// The reminders of cadence `webhook` sent so far.
    pub fn of(&self, webhook: Option<&str>) -> Option<&Reminded> {
        self.reminded
            .iter()
            .find(|r| r.webhook.as_deref() == webhook)
    }
}

/// Why `request` cannot be acknowledged, if it cannot.
fn refusal(request: &Request) -> Option<String> {
    if request.stage != Stage::Open {
        let reason = request.close_reason.map_or("", |c| c.as_str());
        let when = request.closed_ms.map(rfc3339).unwrap_or_default();
        return Some(format!("it is closed ({reason}, at {when})"));
    }
    let (Some(at), Some(by)) = (request.acknowledged_ms, &request.acknowledged_by) else {
        return None;
    };
    Some(format!(
        "it was already acknowledged by {by} at {}",
        rfc3339(at)
    ))
}

impl Store {
    /// Acknowledges open request `id` as `by`, with `note` (by `by`) if
    /// given, and writes `request.acknowledged`. [`StoreError::NotFound`]
    /// for no such request, [`StoreError::NotAcknowledgeable`] for a
    /// closed or already acknowledged one.
    pub async fn acknowledge_request(
        &self,
        id: RequestId,
        by: &str,
        note: Option<&str>,
    ) -> Result<Request> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let current = fetch_in(&mut tx, id).await?;
        if let Some(reason) = refusal(&current) {
            return Err(StoreError::NotAcknowledgeable { id, reason });
        }
        sqlx::query(
            "UPDATE requests SET acknowledged_ms = $1, acknowledged_by = $2 \
             WHERE id = $3 AND stage = 'open' AND acknowledged_ms IS NULL",
        )
        .bind(now)
        .bind(by)
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
        if let Some(text) = note {
            note_in(&mut tx, id, by, text, now).await?;
        }
        let acked = fetch_in(&mut tx, id).await?;
        let event = Event::RequestAcknowledged(snapshot_in(&mut tx, &self.routes(), &acked).await?);
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(acked)
    }

    /// Every open, unacknowledged request with the reminders it has had.
    pub async fn reminder_candidates(&self) -> Result<Vec<ReminderCandidate>> {
        let rows = sqlx::query(
            "SELECT r.id, r.service_id, r.opened_ms, m.webhook, m.sent, m.last_ms \
             FROM requests r LEFT JOIN request_reminders m ON m.request_id = r.id \
             WHERE r.stage = 'open' AND r.acknowledged_ms IS NULL ORDER BY r.id",
        )
        .fetch_all(&self.read)
        .await?;
        let mut out: Vec<ReminderCandidate> = Vec::new();
        for r in &rows {
            let id = request_id(r, "id")?;
            if out.last().is_none_or(|c| c.id != id) {
                out.push(ReminderCandidate {
                    id,
                    service_id: text_id_opt(r, "service_id")?,
                    opened_ms: r.try_get("opened_ms")?,
                    reminded: Vec::new(),
                });
            }
            let webhook: Option<String> = r.try_get("webhook")?;
            if let (Some(webhook), Some(last)) = (webhook, out.last_mut()) {
                last.reminded.push(Reminded {
                    webhook: (webhook != ALL).then_some(webhook),
                    sent: r.try_get("sent")?,
                    last_ms: r.try_get("last_ms")?,
                });
            }
        }
        Ok(out)
    }

    /// Sends reminder number `sent_before + 1` of request `id`: the
    /// `request.reminder` event for every subscribed webhook
    /// (`webhook = None`) or for `webhook` only. Nothing (`None`) when the
    /// request is no longer open and unacknowledged, or another reminder
    /// of that cadence was counted since `sent_before` was read. Returns
    /// the reminder's number.
    pub async fn send_reminder(
        &self,
        id: RequestId,
        webhook: Option<&str>,
        sent_before: i64,
    ) -> Result<Option<i64>> {
        let now = self.clock.now_ms();
        let key = webhook.unwrap_or(ALL);
        let mut tx = self.begin().await?;
        let request = fetch_in(&mut tx, id).await?;
        if request.stage != Stage::Open || request.acknowledged_ms.is_some() {
            return Ok(None);
        }
        let counted = if sent_before == 0 {
            sqlx::query(
                "INSERT INTO request_reminders (request_id, webhook, sent, last_ms) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (request_id, webhook) DO NOTHING",
            )
            .bind(id.get())
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query(
                "UPDATE request_reminders SET sent = sent + 1, last_ms = $1 \
                 WHERE request_id = $2 AND webhook = $3 AND sent = $4",
            )
            .bind(now)
            .bind(id.get())
            .bind(key)
            .bind(sent_before)
            .execute(&mut *tx)
            .await?
        };
        if counted.rows_affected() == 0 {
            return Ok(None);
        }
        let number = sent_before + 1;
        let event = Event::RequestReminder {
            request: snapshot_in(&mut tx, &self.routes(), &request).await?,
            reminder: number,
            open_for_s: (now - request.opened_ms).max(0) / 1000,
        };
        let seq = append_routed(&mut tx, &self.routes(), &event, webhook, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(Some(number))
    }
}

#[cfg(test)]
mod tests;
