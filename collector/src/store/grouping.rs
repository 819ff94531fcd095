//! One request per root cause (sqlite migration 0013, postgres 0007): a
//! `host` or `monitoring` request has no service of its own; its services
//! are rows of `request_services` (when each went down and came back, the
//! URL and failure its texts show), and each one's `open_request_id`
//! points at it while it is down. Partial unique indexes keep one open
//! host request per equipment and one open monitoring request overall.
//!
//! The lifecycle decides (`lifecycle/grouping.rs`); each step here is one
//! transaction with its events: a confirmed failure without a request
//! (`service.down` only), a request opened for such a service or a group
//! of them, a service joining or leaving a group, a group closed.

use sqlx::{AnyConnection, Row};

use super::requests::{
    REQUEST_COLUMNS, Subject, close_with_event, insert_request, marked_up, open_of, opened_event,
    request_row,
};
use super::{Result, Store, events::append_event, named, request_id, text_id};
use crate::domain::texts::{self, AUTOMATIC_AUTHOR, Downtime};
use crate::domain::{
    CloseReason, EquipmentId, Event, NewRequest, Request, RequestId, RequestKind, ServiceId,
    ServiceSnapshot, ServiceState,
};

/// One service of a host or monitoring request.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    pub service: ServiceId,
    pub url: String,
    /// The failure's label when it went down.
    pub failure: String,
    pub down_ms: i64,
    /// When it came back, while the request stays open.
    pub up_ms: Option<i64>,
}

/// An open host or monitoring request with its services.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenGroup {
    pub request: RequestId,
    pub kind: RequestKind,
    /// The host's equipment (`None` for monitoring).
    pub equipment: Option<EquipmentId>,
    pub members: Vec<GroupMember>,
}

/// What a confirmed failure found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The service is linked to this open request: nothing to open.
    Linked(RequestId),
    /// Down with no request: the lifecycle decides which to open.
    Unlinked,
}

/// The ids of the services of a host or monitoring request (none for
/// other kinds), for its events.
pub(super) async fn services_of(
    conn: &mut AnyConnection,
    request: &Request,
) -> Result<Vec<ServiceId>> {
    if !matches!(request.kind, RequestKind::Host | RequestKind::Monitoring) {
        return Ok(Vec::new());
    }
    Ok(members_of(conn, request.id)
        .await?
        .into_iter()
        .map(|m| m.service)
        .collect())
}

async fn members_of(conn: &mut AnyConnection, id: RequestId) -> Result<Vec<GroupMember>> {
    sqlx::query(
        "SELECT service_id, url, failure, down_ms, up_ms FROM request_services \
         WHERE request_id = $1 ORDER BY service_id",
    )
    .bind(id.get())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(GroupMember {
            service: text_id(r, "service_id")?,
            url: r.try_get("url")?,
            failure: r.try_get("failure")?,
            down_ms: r.try_get("down_ms")?,
            up_ms: r.try_get("up_ms")?,
        })
    })
    .collect()
}

fn downtimes(members: &[GroupMember]) -> Vec<Downtime<'_>> {
    members
        .iter()
        .map(|m| Downtime {
            id: &m.service,
            url: &m.url,
            down_ms: m.down_ms,
            up_ms: m.up_ms,
        })
        .collect()
}

/// Adds `member` to request `id` (again: down anew) and links its service.
async fn add_member(conn: &mut AnyConnection, id: RequestId, member: &GroupMember) -> Result<()> {
    sqlx::query(
        "INSERT INTO request_services (request_id, service_id, url, failure, down_ms, up_ms) \
         VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (request_id, service_id) DO UPDATE \
         SET url = excluded.url, failure = excluded.failure, down_ms = excluded.down_ms, up_ms = NULL",
    )
    .bind(id.get())
    .bind(member.service.as_str())
    .bind(&member.url)
    .bind(&member.failure)
    .bind(member.down_ms)
    .execute(&mut *conn)
    .await?;
    link(conn, &member.service, Some(id)).await
}

async fn link(conn: &mut AnyConnection, service: &ServiceId, id: Option<RequestId>) -> Result<()> {
    sqlx::query("UPDATE services SET open_request_id = $1 WHERE id = $2")
        .bind(id.map(RequestId::get))
        .bind(service.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn add_note(conn: &mut AnyConnection, id: RequestId, text: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO request_notes (request_id, author, time_ms, text) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.get())
    .bind(AUTOMATIC_AUTHOR)
    .bind(now_ms)
    .bind(text)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `id` if it is an open request.
async fn still_open(conn: &mut AnyConnection, id: Option<i64>) -> Result<Option<RequestId>> {
    let Some(id) = id else { return Ok(None) };
    let row = sqlx::query("SELECT id FROM requests WHERE id = $1 AND stage = 'open'")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| request_id(&r, "id")).transpose()
}

impl Store {
    /// Marks `service` down. Linked to an open request (its own, or a host
    /// or monitoring request it is part of): nothing more. Otherwise its
    /// link is cleared and `service.down` written if it was not `down`
    /// already (so a retry writes it once); the lifecycle then decides
    /// which request to open.
    pub async fn service_confirmed_down(&self, service: &ServiceSnapshot) -> Result<Confirmed> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT state, open_request_id FROM services WHERE id = $1")
            .bind(service.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let (state, linked) = match &row {
            Some(r) => (
                named::<ServiceState>(r, "services", "state")?,
                r.try_get::<Option<i64>, _>("open_request_id")?,
            ),
            None => (ServiceState::Unknown, None),
        };
        let open = match open_of(&mut tx, Subject::Service(&service.id)).await? {
            Some(id) => Some(id),
            None => still_open(&mut tx, linked).await?,
        };
        let mut last = None;
        if open.is_none() && state != ServiceState::Down {
            let down = Event::ServiceDown(service.clone());
            last = Some(append_event(&mut tx, &self.routes(), &down, now).await?);
        }
        if state != ServiceState::Down {
            sqlx::query("UPDATE services SET state = 'down', state_since_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(service.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        link(&mut tx, &service.id, open).await?;
        tx.commit().await?;
        self.published(last);
        Ok(open.map_or(Confirmed::Unlinked, Confirmed::Linked))
    }

    /// Opens `new` (`[HTTP KO]`) for `service`, already down, unless it has
    /// an open request, and links it; `request.opened` only (its
    /// `service.down` was written when it was confirmed).
    pub async fn open_service_request(
        &self,
        service: &ServiceId,
        new: &NewRequest,
    ) -> Result<super::Opened> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let subject = Subject::Service(service);
        let (outcome, id, last) = match open_of(&mut tx, subject).await? {
            Some(id) => (super::Opened::Existing(id), id, None),
            None => {
                let id = insert_request(&mut tx, Some(subject), new, now).await?;
                let (req, seq) = opened_event(&mut tx, &self.routes(), id, None, now).await?;
                (super::Opened::New(Box::new(req)), id, Some(seq))
            }
        };
        link(&mut tx, service, Some(id)).await?;
        tx.commit().await?;
        self.published(last);
        Ok(outcome)
    }

    /// Opens a host or monitoring request for `members`, links each, and
    /// writes `request.opened` (with the `services` list).
    pub async fn open_group_request(
        &self,
        new: &NewRequest,
        members: &[GroupMember],
    ) -> Result<Request> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let id = insert_request(&mut tx, None, new, now).await?;
        for m in members {
            add_member(&mut tx, id, m).await?;
        }
        let (req, seq) = opened_event(&mut tx, &self.routes(), id, None, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(req)
    }

    /// Adds `member` to open request `id` with `note`; `false` (nothing
    /// written) when `id` is no longer open.
    pub async fn join_group_request(
        &self,
        id: RequestId,
        member: &GroupMember,
        note: &str,
    ) -> Result<bool> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        if still_open(&mut tx, Some(id.get())).await?.is_none() {
            return Ok(false);
        }
        add_member(&mut tx, id, member).await?;
        add_note(&mut tx, id, note, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `service`, part of request `id`, is back up: state `up`, link
    /// cleared, `service.up` (when `was_down`). A host request whose
    /// services are all back up closes (`recovered`, a note listing each
    /// one's downtime, `request.closed`); otherwise it gets `note`.
    /// Returns the closed request.
    pub async fn group_member_up(
        &self,
        service: &ServiceSnapshot,
        id: RequestId,
        was_down: bool,
        note: &str,
    ) -> Result<Option<Request>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let mut last = marked_up(&mut tx, &self.routes(), service, was_down, now).await?;
        sqlx::query("UPDATE request_services SET up_ms = $1 WHERE request_id = $2 AND service_id = $3 AND up_ms IS NULL")
            .bind(now)
            .bind(id.get())
            .bind(service.id.as_str())
            .execute(&mut *tx)
            .await?;
        let mut closed = None;
        if still_open(&mut tx, Some(id.get())).await?.is_some() {
            let kind = request_kind(&mut tx, id).await?;
            let members = members_of(&mut tx, id).await?;
            if kind == RequestKind::Host && members.iter().all(|m| m.up_ms.is_some()) {
                let text = texts::group_closing_note(&downtimes(&members), now);
                let routes = self.routes();
                if let Some((req, seq)) =
                    close_with_event(&mut tx, &routes, id, CloseReason::Recovered, &text, now)
                        .await?
                {
                    last = Some(seq);
                    closed = Some(req);
                }
            } else {
                add_note(&mut tx, id, note, now).await?;
            }
        }
        tx.commit().await?;
        self.published(last);
        Ok(closed)
    }

    /// Closes the monitoring request `id` (`recovered`) with a note giving
    /// the `down` of `active` services and each service's downtime, and
    /// unlinks the services still linked to it (the lifecycle opens their
    /// requests). Returns the closed request.
    pub async fn close_monitoring_request(
        &self,
        id: RequestId,
        down: usize,
        active: usize,
    ) -> Result<Option<Request>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let members = members_of(&mut tx, id).await?;
        let text = texts::monitoring_closing_note(down, active, &downtimes(&members), now);
        let routes = self.routes();
        let closed =
            close_with_event(&mut tx, &routes, id, CloseReason::Recovered, &text, now).await?;
        sqlx::query("UPDATE services SET open_request_id = NULL WHERE open_request_id = $1")
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let (closed, seq) = closed.unzip();
        self.published(seq);
        Ok(closed)
    }

    /// The open host and monitoring requests with their services (the
    /// lifecycle's start).
    pub async fn open_groups(&self) -> Result<Vec<OpenGroup>> {
        let mut conn = self.read.acquire().await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE stage = 'open' \
             AND kind IN ('host', 'monitoring') ORDER BY id"
        ));
        let requests = sqlx::query(sql)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(request_row)
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            out.push(OpenGroup {
                request: r.id,
                kind: r.kind,
                equipment: r.equipment_id,
                members: members_of(&mut conn, r.id).await?,
            });
        }
        Ok(out)
    }

    /// Configured services stored `down` with no open request (confirmed,
    /// then the collector stopped before their request was decided); a
    /// service a mute window holds is the window's to release, and one
    /// whose request (its own or a group's) was closed by hand since it
    /// went down opens nothing until it has recovered and failed again.
    pub async fn unlinked_down_services(&self) -> Result<Vec<ServiceId>> {
        sqlx::query(
            "SELECT s.id FROM services s WHERE s.configured = 1 AND s.state = 'down' \
             AND s.open_request_id IS NULL AND s.held_since_ms IS NULL \
             AND NOT EXISTS (SELECT 1 FROM requests r \
                 LEFT JOIN request_services m ON m.request_id = r.id AND m.service_id = s.id \
                 WHERE r.close_reason = 'manual' AND r.closed_ms >= s.state_since_ms \
                 AND (r.service_id = s.id OR m.service_id IS NOT NULL)) \
             ORDER BY s.id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| text_id(r, "id"))
        .collect()
    }
}

async fn request_kind(conn: &mut AnyConnection, id: RequestId) -> Result<RequestKind> {
    let row = sqlx::query("SELECT kind FROM requests WHERE id = $1")
        .bind(id.get())
        .fetch_one(&mut *conn)
        .await?;
    named(&row, "requests", "kind")
}

#[cfg(test)]
mod tests;
