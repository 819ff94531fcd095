//! The event log (strictly increasing `seq`) and the webhook outbox.
//!
//! An event is written once, as [`Event::encode`]'s text: the log row
//! (what WatchEvents streams) and every outbox row carry the same body.
//! The outbox is read by the notifier (due rows) and, for
//! `ListWebhooks` / `ListDeliveries`, by the API (counts and listings).

use std::collections::HashMap;

use sqlx::{Any, AnyConnection, QueryBuilder, Row};

use super::backend::numbered;
use super::{EventSettings, Result, Store, named, named_opt};
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

/// One receiver's outbox rows by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Not delivered and not given up (waiting or retrying).
    pub pending: i64,
    /// Given up after `retry_for`.
    pub failed: i64,
    pub delivered: i64,
}

/// Which deliveries [`Store::list_deliveries`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only those whose last attempt failed (retrying or given up).
    pub failed_only: bool,
    /// Only this receiver's.
    pub webhook: Option<String>,
}

/// One outbox row as the API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook: String,
    pub event_seq: i64,
    /// `None` when the event has been pruned from the log.
    pub event_type: Option<EventType>,
    pub subject: Option<String>,
    /// When the event happened (the row was written in its transaction).
    pub created_ms: Option<i64>,
    pub msg_id: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    pub attempts: i64,
    pub first_attempt_ms: Option<i64>,
    pub next_attempt_ms: i64,
    pub delivered_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// Appends `event` inside `conn`'s transaction, with its outbox rows.
/// Returns the event's seq.
pub(super) async fn append_event(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    event: &Event,
    now_ms: i64,
) -> Result<i64> {
    append_to(conn, Some((settings, None)), event, now_ms).await
}

/// [`append_event`], with outbox rows for `only` when given (whatever
/// the events it subscribes to: a webhook's own reminders), else for
/// every webhook that subscribes to the event's type.
pub(super) async fn append_routed(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    event: &Event,
    only: Option<&str>,
    now_ms: i64,
) -> Result<i64> {
    append_to(conn, Some((settings, only)), event, now_ms).await
}

/// Appends `event` to the log only, with no outbox rows: what a mute
/// window holds back from the webhooks (`maintenance/hold.rs`).
pub(super) async fn append_unrouted(
    conn: &mut AnyConnection,
    event: &Event,
    now_ms: i64,
) -> Result<i64> {
    append_to(conn, None, event, now_ms).await
}

/// Appends `event`, with outbox rows as `routes` says: none without
/// routes, else for `only` or the subscribers.
async fn append_to(
    conn: &mut AnyConnection,
    routes: Option<(&EventSettings, Option<&str>)>,
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
    let Some((settings, only)) = routes else {
        return Ok(seq);
    };
    // A disabled receiver is not told about itself: its row would wait
    // for the restart that re-enables it, when the news is stale.
    let subject = event.subject();
    let about_itself =
        |w: &&str| event_type == EventType::WebhookDisabled && *w == subject.as_str();
    let receivers: Vec<&str> = match only {
        Some(name) => vec![name],
        None => settings
            .receivers(event_type)
            .filter(|w| !about_itself(w))
            .collect(),
    };
    for webhook in receivers {
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
        let mut tx = self.begin().await?;
        let seq = append_event(&mut tx, &self.routes(), event, self.clock.now_ms()).await?;
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
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, delivered_ms = $1, \
             first_attempt_ms = COALESCE(first_attempt_ms, $1), last_error = NULL WHERE id = $2",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
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
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE webhook_outbox SET state = $1, attempts = attempts + 1, next_attempt_ms = $2, \
             first_attempt_ms = COALESCE(first_attempt_ms, $3), last_error = $4 WHERE id = $5",
        )
        .bind(state)
        .bind(next)
        .bind(now_ms)
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives up the pending deliveries of every receiver not in
    /// `configured` (a webhook removed from the file): they become
    /// `failed` with `reason`, so `picketctl deliveries --failed` shows
    /// them and they no longer keep their events past retention. Returns
    /// how many rows it gave up.
    pub async fn abandon_deliveries_except(
        &self,
        configured: &[String],
        reason: &str,
        now_ms: i64,
    ) -> Result<u64> {
        let mut q: QueryBuilder<Any> =
            QueryBuilder::new("UPDATE webhook_outbox SET state = 'failed', last_error = ");
        q.push_bind(reason.to_owned())
            .push(", next_attempt_ms = ")
            .push_bind(now_ms)
            .push(" WHERE state = 'pending'");
        if !configured.is_empty() {
            q.push(" AND webhook NOT IN (");
            let mut names = q.separated(", ");
            for name in configured {
                names.push_bind(name.clone());
            }
            q.push(")");
        }
        let mut tx = self.begin().await?;
        let n = numbered(self.backend, &mut q)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Outbox rows per receiver and state, for every receiver that has any.
    pub async fn outbox_counts(&self) -> Result<HashMap<String, OutboxCounts>> {
        let rows = sqlx::query(
            "SELECT webhook, state, COUNT(*) AS n FROM webhook_outbox GROUP BY webhook, state",
        )
        .fetch_all(&self.read)
        .await?;
        let mut counts = HashMap::<String, OutboxCounts>::new();
        for r in &rows {
            let entry = counts.entry(r.try_get("webhook")?).or_default();
            let n: i64 = r.try_get("n")?;
            match r.try_get::<String, _>("state")?.as_str() {
                "pending" => entry.pending += n,
                "delivered" => entry.delivered += n,
                _ => entry.failed += n,
            }
        }
        Ok(counts)
    }

    /// Deliveries matching `filter`, newest first, at most `limit`.
    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        self.delivery_page(filter, None, limit).await
    }

    /// Deliveries matching `filter` with an id below `before` (all without
    /// it), newest first, at most `limit`: a keyset page, so a delivery
    /// written between two pages never repeats an earlier one.
    pub async fn delivery_page(
        &self,
        filter: &DeliveryFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(
            "SELECT o.id, o.webhook, o.event_seq, e.type, e.subject, e.time_ms, o.msg_id, o.state, \
             o.attempts, o.first_attempt_ms, o.next_attempt_ms, o.delivered_ms, o.last_error \
             FROM webhook_outbox o LEFT JOIN events e ON e.seq = o.event_seq \
             WHERE ($1 = '' OR o.webhook = $1) AND ($2 = 0 OR o.last_error IS NOT NULL) \
             AND o.id < $3 ORDER BY o.id DESC LIMIT $4",
        )
        .bind(filter.webhook.as_deref().unwrap_or(""))
        .bind(i64::from(filter.failed_only))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    id: r.try_get("id")?,
                    webhook: r.try_get("webhook")?,
                    event_seq: r.try_get("event_seq")?,
                    event_type: named_opt(r, "events", "type")?,
                    subject: r.try_get("subject")?,
                    created_ms: r.try_get("time_ms")?,
                    msg_id: r.try_get("msg_id")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    first_attempt_ms: r.try_get("first_attempt_ms")?,
                    next_attempt_ms: r.try_get("next_attempt_ms")?,
                    delivered_ms: r.try_get("delivered_ms")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }
}
