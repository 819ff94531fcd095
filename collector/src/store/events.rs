//! The event log (strictly increasing `seq`) and the webhook outbox.
//!
//! An event is written once, as [`Event::encode`]'s text: the log row
//! (what WatchEvents streams) and every outbox row carry the same body.

use sqlx::{AnyConnection, Row};

use super::{EventSettings, Result, Store, named};
use crate::domain::{Event, EventType};

/// One committed event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: i64,
    pub event_id: String,
    pub time_ms: i64,
    pub event_type: EventType,
    pub subject: String,
    /// The JSON body webhooks receive.
    pub payload: String,
}

/// One pending webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub webhook: String,
    /// `webhook-id`: the same on every attempt.
    pub msg_id: String,
    pub body: String,
    pub attempts: i64,
    pub first_attempt_ms: Option<i64>,
}

/// Appends `event` inside `conn`'s transaction, with its outbox rows.
/// Returns the event's seq.
pub(super) async fn append_event(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    event: &Event,
    now_ms: i64,
) -> Result<i64> {
    let event_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let event_type = event.event_type();
    let payload = event.encode(&event_id, now_ms);
    let row = sqlx::query(
        "INSERT INTO events (event_id, time_ms, type, subject, payload) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
    )
    .bind(&event_id)
    .bind(now_ms)
    .bind(event_type.as_str())
    .bind(event.subject())
    .bind(&payload)
    .fetch_one(&mut *conn)
    .await?;
    let seq: i64 = row.try_get("seq")?;
    for webhook in settings.receivers(event_type) {
        sqlx::query(
            "INSERT INTO webhook_outbox (webhook, event_seq, msg_id, body, next_attempt_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(webhook)
        .bind(seq)
        .bind(&event_id)
        .bind(&payload)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(seq)
}

fn event_row(r: &sqlx::any::AnyRow) -> Result<EventRow> {
    Ok(EventRow {
        seq: r.try_get("seq")?,
        event_id: r.try_get("event_id")?,
        time_ms: r.try_get("time_ms")?,
        event_type: named(r, "events", "type")?,
        subject: r.try_get("subject")?,
        payload: r.try_get("payload")?,
    })
}

impl Store {
    /// Appends an event that changes no row (a local failure, a duplicate agent).
    pub async fn record_event(&self, event: &Event) -> Result<i64> {
        let mut tx = self.write.begin().await?;
        let seq = append_event(&mut tx, &self.routes, event, self.clock.now_ms()).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(seq)
    }

    pub(super) async fn last_event_seq(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events")
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("seq")?)
    }

    /// Events with `seq > after`, oldest first.
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT seq, event_id, time_ms, type, subject, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_row).collect()
    }

    /// Pending deliveries of `webhook` due at `now_ms`, oldest first.
    pub async fn due_deliveries(
        &self,
        webhook: &str,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT id, webhook, msg_id, body, attempts, first_attempt_ms FROM webhook_outbox \
             WHERE webhook = $1 AND state = 'pending' AND next_attempt_ms <= $2 ORDER BY id LIMIT $3",
        )
        .bind(webhook)
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    webhook: r.try_get("webhook")?,
                    msg_id: r.try_get("msg_id")?,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                    first_attempt_ms: r.try_get("first_attempt_ms")?,
                })
            })
            .collect()
    }

    /// When the next pending delivery of `webhook` is due, if any.
    pub async fn next_delivery_due(&self, webhook: &str) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(next_attempt_ms) AS due FROM webhook_outbox WHERE webhook = $1 AND state = 'pending'",
        )
        .bind(webhook)
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get("due")?)
    }

    pub async fn delivery_succeeded(&self, id: i64, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, delivered_ms = $1, \
             first_attempt_ms = COALESCE(first_attempt_ms, $1), last_error = NULL WHERE id = $2",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at_ms`, or given up when `None`.
    pub async fn delivery_failed(
        &self,
        id: i64,
        now_ms: i64,
        error: &str,
        retry_at_ms: Option<i64>,
    ) -> Result<()> {
        let (state, next) = match retry_at_ms {
            Some(at) => ("pending", at),
            None => ("failed", now_ms),
        };
        sqlx::query(
            "UPDATE webhook_outbox SET state = $1, attempts = attempts + 1, next_attempt_ms = $2, \
             first_attempt_ms = COALESCE(first_attempt_ms, $3), last_error = $4 WHERE id = $5",
        )
        .bind(state)
        .bind(next)
        .bind(now_ms)
        .bind(error)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
