//! Maintenance requests and their notes.
//!
//! **Invariant:** at most one open request per service (and per agent),
//! enforced by partial unique indexes, not only by the callers.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use sqlx::{AnyConnection, Row};

use super::{EventSettings, Result, Store, StoreError, events::append_event};
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

/// Whose request it is: at most one is open per subject.
#[derive(Debug, Clone, Copy)]
pub(super) enum Subject<'a> {
    Service(&'a str),
    Agent(&'a str),
}

/// The id of `subject`'s open request, if any.
pub(super) async fn open_of(conn: &mut AnyConnection, subject: Subject<'_>) -> Result<Option<i64>> {
    let row = match subject {
        Subject::Service(id) => {
            sqlx::query("SELECT id FROM requests WHERE service_id = $1 AND stage = 'open'").bind(id)
        }
        Subject::Agent(id) => {
            sqlx::query("SELECT id FROM requests WHERE agent_id = $1 AND stage = 'open'").bind(id)
        }
    }
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("id")?),
        None => None,
    })
}

/// Opens `new` for `subject` with the `request.opened` event, whose body
/// gets `extra` too. The caller has checked that none is open (the unique
/// indexes refuse a second one anyway). Returns the request and the seq.
pub(super) async fn open_with_event(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    subject: Subject<'_>,
    new: &NewRequest,
    extra: Map<String, Value>,
    now_ms: i64,
) -> Result<(RequestRow, i64)> {
    let (service, agent) = match subject {
        Subject::Service(id) => (Some(id), None),
        Subject::Agent(id) => (None, Some(id)),
    };
    let row = sqlx::query(
        "INSERT INTO requests (name, kind, priority, description, stage, service_id, agent_id, equipment_id, url, opened_ms) \
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(&new.name)
    .bind(&new.kind)
    .bind(&new.priority)
    .bind(&new.description)
    .bind(service)
    .bind(agent)
    .bind(&new.equipment_id)
    .bind(&new.url)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get("id")?;
    let req = fetch_in(conn, id).await?;
    let mut body = request_body(&req, &equipment_name_in(conn, &req).await?, settings);
    body.extend(extra);
    let seq = append_event(
        conn,
        settings,
        "request.opened",
        &id.to_string(),
        body,
        now_ms,
    )
    .await?;
    Ok((req, seq))
}

/// Closes `subject`'s open request, if any, with a note by `picket` and
/// the `request.closed` event.
pub(super) async fn close_open_of(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    subject: Subject<'_>,
    reason: &str,
    note: &str,
    now_ms: i64,
) -> Result<Option<(RequestRow, i64)>> {
    match open_of(conn, subject).await? {
        Some(id) => close_with_event(conn, settings, id, reason, note, now_ms).await,
        None => Ok(None),
    }
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
        let subject = Subject::Service(service);
        let mut tx = self.write.begin().await?;
        let (outcome, id, last) = match open_of(&mut tx, subject).await? {
            // `service.down` announces an outage once: a service that comes
            // back to `down` while its request is still open (after
            // maintenance, or after losing its agents) is the same outage.
            Some(id) => (Opened::Existing(id), id, None),
            None => {
                append_event(
                    &mut tx,
                    &self.routes,
                    "service.down",
                    service,
                    service_body,
                    now,
                )
                .await?;
                let (req, seq) =
                    open_with_event(&mut tx, &self.routes, subject, &new, Map::new(), now).await?;
                let id = req.id;
                (Opened::New(Box::new(req)), id, Some(seq))
            }
        };
        sqlx::query("UPDATE services SET state = 'down', state_since_ms = $1, open_request_id = $2 WHERE id = $3")
            .bind(now)
            .bind(id)
            .bind(service)
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
        service: &str,
        was_down: bool,
        note: &str,
        service_body: Map<String, Value>,
    ) -> Result<Option<RequestRow>> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE services SET state = 'up', state_since_ms = $1, open_request_id = NULL WHERE id = $2")
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
        let closed = close_open_of(
            &mut tx,
            &self.routes,
            Subject::Service(service),
            "recovered",
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

    /// All requests (or the open ones) with their notes, in two queries.
    pub async fn list_requests(&self, open_only: bool) -> Result<Vec<RequestRow>> {
        let filter = if open_only {
            "WHERE stage = 'open'"
        } else {
            ""
        };
        let mut conn = self.read.acquire().await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests {filter} ORDER BY id"
        ));
        let mut out = sqlx::query(sql)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(request_row)
            .collect::<Result<Vec<_>>>()?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT request_id, author, time_ms, text FROM request_notes \
             WHERE request_id IN (SELECT id FROM requests {filter}) ORDER BY id"
        ));
        let mut notes: HashMap<i64, Vec<NoteRow>> = HashMap::new();
        for r in sqlx::query(sql).fetch_all(&mut *conn).await? {
            notes
                .entry(r.try_get("request_id")?)
                .or_default()
                .push(NoteRow {
                    author: r.try_get("author")?,
                    time_ms: r.try_get("time_ms")?,
                    text: r.try_get("text")?,
                });
        }
        for req in &mut out {
            req.notes = notes.remove(&req.id).unwrap_or_default();
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
