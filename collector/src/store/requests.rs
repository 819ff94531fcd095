//! Maintenance requests and their notes.
//!
//! **Invariant:** at most one open request per service (and per agent),
//! enforced by partial unique indexes, not only by the callers.

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use super::{EventSettings, Result, Store, StoreError, events::append_event};
use crate::domain::ServiceState;
use crate::time::{now_ms, rfc3339};

/// A request to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    pub name: String,
    /// `corrective` or `agent`.
    pub kind: String,
    pub priority: String,
    pub description: String,
    pub equipment_id: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoteRow {
    pub author: String,
    pub time_ms: i64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub priority: String,
    pub description: String,
    /// `open` or `done`.
    pub stage: String,
    pub service_id: Option<String>,
    pub agent_id: Option<String>,
    pub equipment_id: Option<String>,
    pub url: Option<String>,
    pub opened_ms: i64,
    pub closed_ms: Option<i64>,
    pub close_reason: Option<String>,
    pub notes: Vec<NoteRow>,
}

const REQUEST_COLUMNS: &str = "id, name, kind, priority, description, stage, service_id, agent_id, \
    equipment_id, url, opened_ms, closed_ms, close_reason";

fn request_row(r: &sqlx::any::AnyRow) -> Result<RequestRow> {
    Ok(RequestRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        priority: r.try_get("priority")?,
        description: r.try_get("description")?,
        stage: r.try_get("stage")?,
        service_id: r.try_get("service_id")?,
        agent_id: r.try_get("agent_id")?,
        equipment_id: r.try_get("equipment_id")?,
        url: r.try_get("url")?,
        opened_ms: r.try_get("opened_ms")?,
        closed_ms: r.try_get("closed_ms")?,
        close_reason: r.try_get("close_reason")?,
        notes: Vec::new(),
    })
}

async fn notes_of(conn: &mut AnyConnection, id: i64) -> Result<Vec<NoteRow>> {
    let rows = sqlx::query(
        "SELECT author, time_ms, text FROM request_notes WHERE request_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NoteRow {
                author: r.try_get("author")?,
                time_ms: r.try_get("time_ms")?,
                text: r.try_get("text")?,
            })
        })
        .collect()
}

pub(super) async fn fetch_in(conn: &mut AnyConnection, id: i64) -> Result<RequestRow> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"
    ));
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("request {id}")))?;
    let mut req = request_row(&row)?;
    req.notes = notes_of(conn, id).await?;
    Ok(req)
}

/// Closes request `id` if it is open, with a note; `None` if it was not open.
pub(super) async fn close_in(
    conn: &mut AnyConnection,
    id: i64,
    reason: &str,
    author: &str,
    text: &str,
    now_ms: i64,
) -> Result<Option<RequestRow>> {
    let done = sqlx::query("UPDATE requests SET stage = 'done', closed_ms = $1, close_reason = $2 WHERE id = $3 AND stage = 'open'")
        .bind(now_ms)
        .bind(reason)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO request_notes (request_id, author, time_ms, text) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(author)
    .bind(now_ms)
    .bind(text)
    .execute(&mut *conn)
    .await?;
    Ok(Some(fetch_in(conn, id).await?))
}

/// Closes request `id` if open, with its note and the `request.closed`
/// event; returns the closed request and the event's seq.
pub(super) async fn close_with_event(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    id: i64,
    reason: &str,
    text: &str,
    now_ms: i64,
) -> Result<Option<(RequestRow, i64)>> {
    let Some(req) = close_in(conn, id, reason, "picket", text, now_ms).await? else {
        return Ok(None);
    };
    let body = request_body(&req, &equipment_name_in(conn, &req).await?, settings);
    let seq = append_event(
        conn,
        settings,
        "request.closed",
        &id.to_string(),
        body,
        now_ms,
    )
    .await?;
    Ok(Some((req, seq)))
}

pub(super) async fn equipment_name_in(
    conn: &mut AnyConnection,
    req: &RequestRow,
) -> Result<String> {
    let Some(eq) = &req.equipment_id else {
        return Ok(String::new());
    };
    let row = sqlx::query("SELECT name FROM equipment WHERE id = $1")
        .bind(eq)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("name")?,
        None => eq.clone(),
    })
}

/// The webhook / event body of a request (PRODUCT.md: the ERP field names
/// `id, name, priority, description, equipment, link` and the rest).
pub fn request_body(
    req: &RequestRow,
    equipment_name: &str,
    settings: &EventSettings,
) -> Map<String, Value> {
    let v = json!({
        "id": req.id,
        "name": req.name,
        "kind": req.kind,
        "priority": req.priority,
        "description": req.description,
        "stage": req.stage,
        "service": req.service_id,
        "agent": req.agent_id,
        "url": req.url,
        "equipment": equipment_name,
        "equipment_id": req.equipment_id,
        "link": settings.request_link(req.id),
        "opened_at": rfc3339(req.opened_ms),
        "closed_at": req.closed_ms.map(rfc3339),
        "close_reason": req.close_reason,
        "notes": req.notes.iter().map(|n| json!({"author": n.author, "time": rfc3339(n.time_ms), "text": n.text})).collect::<Vec<_>>(),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// What a transition to `down` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// A new request was opened.
    New(Box<RequestRow>),
    /// The service already had this open request; nothing was opened.
    Existing(i64),
}

impl Store {
    /// Marks `service` down and opens `new` unless the service already has
    /// an open request, in one transaction with the `service.down` and
    /// `request.opened` events.
    pub async fn service_down(
        &self,
        service: &str,
        new: NewRequest,
        service_body: Map<String, Value>,
    ) -> Result<Opened> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE services SET state = 'down', state_since_ms = $1 WHERE id = $2")
            .bind(now)
            .bind(service)
            .execute(&mut *tx)
            .await?;
        let existing =
            sqlx::query("SELECT id FROM requests WHERE service_id = $1 AND stage = 'open'")
                .bind(service)
                .fetch_optional(&mut *tx)
                .await?;
        // `service.down` announces an outage once: a service that comes back
        // to `down` while its request is still open (after maintenance, or
        // after losing its agents) is the same outage.
        let mut last = None;
        if existing.is_none() {
            last = Some(
                append_event(
                    &mut tx,
                    &self.routes,
                    "service.down",
                    service,
                    service_body,
                    now,
                )
                .await?,
            );
        }
        let outcome = match existing {
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                sqlx::query("UPDATE services SET open_request_id = $1 WHERE id = $2")
                    .bind(id)
                    .bind(service)
                    .execute(&mut *tx)
                    .await?;
                Opened::Existing(id)
            }
            None => {
                let row = sqlx::query(
                    "INSERT INTO requests (name, kind, priority, description, stage, service_id, equipment_id, url, opened_ms) \
                     VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8) RETURNING id",
                )
                .bind(&new.name)
                .bind(&new.kind)
                .bind(&new.priority)
                .bind(&new.description)
                .bind(service)
                .bind(&new.equipment_id)
                .bind(&new.url)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let id: i64 = row.try_get("id")?;
                sqlx::query("UPDATE services SET open_request_id = $1 WHERE id = $2")
                    .bind(id)
                    .bind(service)
                    .execute(&mut *tx)
                    .await?;
                let req = fetch_in(&mut tx, id).await?;
                let body =
                    request_body(&req, &equipment_name_in(&mut tx, &req).await?, &self.routes);
                last = Some(
                    append_event(
                        &mut tx,
                        &self.routes,
                        "request.opened",
                        &id.to_string(),
                        body,
                        now,
                    )
                    .await?,
                );
                Opened::New(Box::new(req))
            }
        };
        tx.commit().await?;
        self.published(last);
        Ok(outcome)
    }

    /// Marks `service` up; closes its open request (if any) with a note by
    /// `picket`, clears the link, and writes `service.up` (when it was down)
    /// and `request.closed`, in one transaction. Returns the closed request.
    pub async fn service_up(
        &self,
        service: &str,
        was_down: bool,
        note: &str,
        service_body: Map<String, Value>,
    ) -> Result<Option<RequestRow>> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE services SET state = $1, state_since_ms = $2 WHERE id = $3")
            .bind(ServiceState::Up.as_str())
            .bind(now)
            .bind(service)
            .execute(&mut *tx)
            .await?;
        let mut last = None;
        if was_down {
            last = Some(
                append_event(
                    &mut tx,
                    &self.routes,
                    "service.up",
                    service,
                    service_body,
                    now,
                )
                .await?,
            );
        }
        let open = sqlx::query("SELECT id FROM requests WHERE service_id = $1 AND stage = 'open'")
            .bind(service)
            .fetch_optional(&mut *tx)
            .await?;
        let mut closed = None;
        if let Some(row) = open {
            let id: i64 = row.try_get("id")?;
            if let Some((req, seq)) =
                close_with_event(&mut tx, &self.routes, id, "recovered", note, now).await?
            {
                last = Some(seq);
                closed = Some(req);
            }
        }
        sqlx::query("UPDATE services SET open_request_id = NULL WHERE id = $1")
            .bind(service)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.published(last);
        Ok(closed)
    }

    pub async fn list_requests(&self, open_only: bool) -> Result<Vec<RequestRow>> {
        let sql = if open_only {
            sqlx::AssertSqlSafe(format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE stage = 'open' ORDER BY id"
            ))
        } else {
            sqlx::AssertSqlSafe(format!(
                "SELECT {REQUEST_COLUMNS} FROM requests ORDER BY id"
            ))
        };
        let mut conn = self.read.acquire().await?;
        let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut req = request_row(r)?;
            req.notes = notes_of(&mut conn, req.id).await?;
            out.push(req);
        }
        Ok(out)
    }

    pub async fn get_request(&self, id: i64) -> Result<RequestRow> {
        let mut conn = self.read.acquire().await?;
        fetch_in(&mut conn, id).await
    }

    /// Open requests of services, by service id (the evaluator's start state).
    pub async fn open_service_requests(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT service_id, id FROM requests WHERE stage = 'open' AND service_id IS NOT NULL",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("service_id")?, r.try_get("id")?)))
            .collect()
    }
}
