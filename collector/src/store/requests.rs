//! Maintenance requests and their notes.
//!
//! **Invariant:** at most one open request per service (and per agent),
//! enforced by partial unique indexes, not only by the callers.

mod service;
pub(super) use service::marked_up;

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::{
    EventSettings, Result, Store, StoreError, events::append_event, named, named_opt, request_id,
    text_id, text_id_opt,
};
use crate::domain::texts::AUTOMATIC_AUTHOR;
use crate::domain::{
    AgentId, AgentSnapshot, CloseReason, Event, HeartbeatId, NewRequest, Note, Request, RequestId,
    RequestSnapshot, ServiceId, Stage,
};

pub(super) const REQUEST_COLUMNS: &str = "id, name, kind, priority, description, stage, service_id, agent_id, \
    equipment_id, url, opened_ms, closed_ms, close_reason, acknowledged_ms, acknowledged_by";

pub(super) fn request_row(r: &sqlx::any::AnyRow) -> Result<Request> {
    Ok(Request {
        id: request_id(r, "id")?,
        name: r.try_get("name")?,
        kind: named(r, "requests", "kind")?,
        priority: r.try_get("priority")?,
        description: r.try_get("description")?,
        stage: named(r, "requests", "stage")?,
        service_id: text_id_opt(r, "service_id")?,
        agent_id: text_id_opt(r, "agent_id")?,
        equipment_id: text_id_opt(r, "equipment_id")?,
        url: r.try_get("url")?,
        opened_ms: r.try_get("opened_ms")?,
        closed_ms: r.try_get("closed_ms")?,
        close_reason: named_opt(r, "requests", "close_reason")?,
        acknowledged_ms: r.try_get("acknowledged_ms")?,
        acknowledged_by: r.try_get("acknowledged_by")?,
        notes: Vec::new(),
    })
}

pub(super) fn note_row(r: &sqlx::any::AnyRow) -> Result<Note> {
    Ok(Note {
        author: r.try_get("author")?,
        time_ms: r.try_get("time_ms")?,
        text: r.try_get("text")?,
    })
}

async fn notes_of(conn: &mut AnyConnection, id: RequestId) -> Result<Vec<Note>> {
    let rows = sqlx::query(
        "SELECT author, time_ms, text FROM request_notes WHERE request_id = $1 ORDER BY id",
    )
    .bind(id.get())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(note_row).collect()
}

pub(super) async fn fetch_in(conn: &mut AnyConnection, id: RequestId) -> Result<Request> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"
    ));
    let row = sqlx::query(sql)
        .bind(id.get())
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
    id: RequestId,
    reason: CloseReason,
    author: &str,
    text: &str,
    now_ms: i64,
) -> Result<Option<Request>> {
    let done = sqlx::query("UPDATE requests SET stage = $1, closed_ms = $2, close_reason = $3 WHERE id = $4 AND stage = 'open'")
        .bind(Stage::Done.as_str())
        .bind(now_ms)
        .bind(reason.as_str())
        .bind(id.get())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    note_in(conn, id, author, text, now_ms).await?;
    Ok(Some(fetch_in(conn, id).await?))
}

/// Adds a note by `author` to request `id`.
pub(super) async fn note_in(
    conn: &mut AnyConnection,
    id: RequestId,
    author: &str,
    text: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO request_notes (request_id, author, time_ms, text) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.get())
    .bind(author)
    .bind(now_ms)
    .bind(text)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Closes request `id` if open, with its note and the `request.closed`
/// event; returns the closed request and the event's seq.
pub(super) async fn close_with_event(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    id: RequestId,
    reason: CloseReason,
    text: &str,
    now_ms: i64,
) -> Result<Option<(Request, i64)>> {
    let Some(req) = close_in(conn, id, reason, AUTOMATIC_AUTHOR, text, now_ms).await? else {
        return Ok(None);
    };
    let event = Event::RequestClosed(snapshot_in(conn, settings, &req).await?);
    let seq = append_event(conn, settings, &event, now_ms).await?;
    Ok(Some((req, seq)))
}

/// `request` as `request.*` events show it: with its equipment's name and link.
pub(super) async fn snapshot_in(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    request: &Request,
) -> Result<RequestSnapshot> {
    let equipment = match &request.equipment_id {
        None => String::new(),
        Some(eq) => {
            let row = sqlx::query("SELECT name FROM equipment WHERE id = $1")
                .bind(eq.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            match row {
                Some(r) => r.try_get("name")?,
                None => eq.to_string(),
            }
        }
    };
    let services = super::grouping::services_of(conn, request).await?;
    Ok(RequestSnapshot {
        link: settings.request_link(request.id),
        equipment,
        request: request.clone(),
        services,
    })
}

/// What a transition to `down` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// A new request was opened.
    New(Box<Request>),
    /// The service already had this open request; nothing was opened.
    Existing(RequestId),
}

/// Whose request it is: at most one is open per subject.
#[derive(Debug, Clone, Copy)]
pub(super) enum Subject<'a> {
    Service(&'a ServiceId),
    Agent(&'a AgentId),
    Heartbeat(&'a HeartbeatId),
}

/// The id of `subject`'s open request, if any.
pub(super) async fn open_of(
    conn: &mut AnyConnection,
    subject: Subject<'_>,
) -> Result<Option<RequestId>> {
    let row = match subject {
        Subject::Service(id) => {
            sqlx::query("SELECT id FROM requests WHERE service_id = $1 AND stage = 'open'")
                .bind(id.as_str())
        }
        Subject::Agent(id) => {
            sqlx::query("SELECT id FROM requests WHERE agent_id = $1 AND stage = 'open'")
                .bind(id.as_str())
        }
        Subject::Heartbeat(id) => {
            sqlx::query("SELECT id FROM requests WHERE heartbeat_id = $1 AND stage = 'open'")
                .bind(id.as_str())
        }
    }
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => Some(request_id(&r, "id")?),
        None => None,
    })
}

/// Opens `new` for `subject` with the `request.opened` event (which shows
/// `agent` for an agent's request). The caller has checked that none is
/// open (the unique indexes refuse a second one anyway). Returns the
/// request and the seq.
pub(super) async fn open_with_event(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    subject: Subject<'_>,
    new: &NewRequest,
    agent: Option<AgentSnapshot>,
    now_ms: i64,
) -> Result<(Request, i64)> {
    let id = insert_request(conn, Some(subject), new, now_ms).await?;
    opened_event(conn, settings, id, agent, now_ms).await
}

/// Inserts `new` as an open request of `subject` (`None`: of a group of
/// services, `store/grouping.rs`), without its event.
pub(super) async fn insert_request(
    conn: &mut AnyConnection,
    subject: Option<Subject<'_>>,
    new: &NewRequest,
    now_ms: i64,
) -> Result<RequestId> {
    let (service_id, agent_id, heartbeat_id) = match subject {
        Some(Subject::Service(id)) => (Some(id.as_str()), None, None),
        Some(Subject::Agent(id)) => (None, Some(id.as_str()), None),
        Some(Subject::Heartbeat(id)) => (None, None, Some(id.as_str())),
        None => (None, None, None),
    };
    let row = sqlx::query(
        "INSERT INTO requests (name, kind, priority, description, stage, service_id, agent_id, equipment_id, url, opened_ms, heartbeat_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(&new.name)
    .bind(new.kind.as_str())
    .bind(&new.priority)
    .bind(&new.description)
    .bind(Stage::Open.as_str())
    .bind(service_id)
    .bind(agent_id)
    .bind(new.equipment_id.as_ref().map(|e| e.as_str()))
    .bind(&new.url)
    .bind(now_ms)
    .bind(heartbeat_id)
    .fetch_one(&mut *conn)
    .await?;
    request_id(&row, "id")
}

/// Writes `request.opened` for request `id`; returns it and the seq.
pub(super) async fn opened_event(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    id: RequestId,
    agent: Option<AgentSnapshot>,
    now_ms: i64,
) -> Result<(Request, i64)> {
    let req = fetch_in(conn, id).await?;
    let event = Event::RequestOpened {
        request: snapshot_in(conn, settings, &req).await?,
        agent,
    };
    let seq = append_event(conn, settings, &event, now_ms).await?;
    Ok((req, seq))
}

/// Closes `subject`'s open request, if any, with a note by `picket` and
/// the `request.closed` event.
pub(super) async fn close_open_of(
    conn: &mut AnyConnection,
    settings: &EventSettings,
    subject: Subject<'_>,
    reason: CloseReason,
    note: &str,
    now_ms: i64,
) -> Result<Option<(Request, i64)>> {
    match open_of(conn, subject).await? {
        Some(id) => close_with_event(conn, settings, id, reason, note, now_ms).await,
        None => Ok(None),
    }
}

impl Store {
    /// All requests (or the open ones) with their notes, in two queries.
    pub async fn list_requests(&self, open_only: bool) -> Result<Vec<Request>> {
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
        let mut notes: HashMap<RequestId, Vec<Note>> = HashMap::new();
        for r in sqlx::query(sql).fetch_all(&mut *conn).await? {
            notes
                .entry(request_id(&r, "request_id")?)
                .or_default()
                .push(note_row(&r)?);
        }
        for req in &mut out {
            req.notes = notes.remove(&req.id).unwrap_or_default();
        }
        Ok(out)
    }

    pub async fn get_request(&self, id: RequestId) -> Result<Request> {
        let mut conn = self.read.acquire().await?;
        fetch_in(&mut conn, id).await
    }

    /// Open requests of services, by service id (the evaluator's start state).
    pub async fn open_service_requests(&self) -> Result<Vec<(ServiceId, RequestId)>> {
        let rows = sqlx::query(
            "SELECT service_id, id FROM requests WHERE stage = 'open' AND service_id IS NOT NULL",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((text_id(r, "service_id")?, request_id(r, "id")?)))
            .collect()
    }
}
