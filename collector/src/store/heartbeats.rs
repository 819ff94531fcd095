//! Heartbeats (push check-ins, migration 0009 / postgres 0003): the rows,
//! their hashed tokens, pings, and the `[NO CHECK-IN]` request opened and
//! closed with the `heartbeat.*` events in the same transaction.

use sqlx::Row;

mod row;

use row::{COLUMNS, row};
pub use row::{HeartbeatRow, NewHeartbeat, Ping};

use super::requests::{Subject, close_open_of, open_of, open_with_event};
use super::{Result, Store, events::append_event, named, text_id};
use crate::config::HeartbeatConfig;
use crate::domain::texts::HEARTBEAT_REMOVED_NOTE;
use crate::domain::{CloseReason, Event, HeartbeatId, HeartbeatState, NewRequest, RequestId};

impl Store {
    async fn heartbeat_where(
        &self,
        pool: &sqlx::AnyPool,
        filter: &str,
        bind: &str,
    ) -> Result<Option<HeartbeatRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM heartbeats h WHERE {filter}"));
        sqlx::query(sql)
            .bind(bind)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(row)
            .transpose()
    }

    /// The heartbeat `id`, read on the write connection (as `get_agent`):
    /// the actor reads it right before writing about it.
    pub async fn get_heartbeat(&self, id: &HeartbeatId) -> Result<Option<HeartbeatRow>> {
        self.heartbeat_where(&self.write, "h.id = $1", id.as_str())
            .await
    }

    /// The heartbeat whose token hashes to `hash` (one indexed read).
    pub async fn heartbeat_by_token(&self, hash: &str) -> Result<Option<HeartbeatRow>> {
        self.heartbeat_where(&self.read, "h.token_hash = $1", hash)
            .await
    }

    /// Heartbeats by id after `after`, `state` only when given, at most `limit`.
    pub async fn list_heartbeats(
        &self,
        state: Option<HeartbeatState>,
        after: Option<&HeartbeatId>,
        limit: u32,
    ) -> Result<Vec<HeartbeatRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM heartbeats h WHERE ($1 = '' OR h.state = $1) AND h.id > $2 \
             ORDER BY h.id LIMIT $3"
        ));
        sqlx::query(sql)
            .bind(state.map_or("", |s| s.as_str()))
            .bind(after.map_or("", |a| a.as_str()))
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(row)
            .collect()
    }

    /// Stores the configured heartbeats (new ones `active`, their deadline
    /// counted from now), updates changed ones, and deletes the configured
    /// ones no longer listed, closing their open request (`removed`).
    pub async fn sync_heartbeats(&self, configured: &[HeartbeatConfig]) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let mut last = None;
        for h in configured {
            sqlx::query(
                "INSERT INTO heartbeats (id, name, state, configured, period_ms, grace_ms, equipment_id, priority, created_ms, watch_from_ms) \
                 VALUES ($1, $2, 'active', 1, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, configured = 1, period_ms = excluded.period_ms, \
                 grace_ms = excluded.grace_ms, equipment_id = excluded.equipment_id, priority = excluded.priority",
            )
            .bind(h.id.as_str())
            .bind(&h.name)
            .bind(h.period.as_millis() as i64)
            .bind(h.grace.as_millis() as i64)
            .bind(h.equipment.as_ref().map(|e| e.as_str()))
            .bind(&h.priority)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let stored = sqlx::query("SELECT id FROM heartbeats WHERE configured = 1")
            .fetch_all(&mut *tx)
            .await?;
        for r in &stored {
            let id: HeartbeatId = text_id(r, "id")?;
            if configured.iter().any(|h| h.id == id) {
                continue;
            }
            let subject = Subject::Heartbeat(&id);
            let closed = close_open_of(
                &mut tx,
                &self.routes(),
                subject,
                CloseReason::Removed,
                HEARTBEAT_REMOVED_NOTE,
                now,
            )
            .await?;
            if let Some((_, seq)) = closed {
                last = Some(seq);
            }
            sqlx::query("DELETE FROM heartbeats WHERE id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.published(last);
        Ok(())
    }

    /// Registers a heartbeat in state `new` with `heartbeat.registered`.
    pub async fn register_heartbeat(&self, h: &NewHeartbeat) -> Result<HeartbeatRow> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO heartbeats (id, name, state, configured, period_ms, grace_ms, priority, token_hash, created_ms) \
             VALUES ($1, $2, 'new', 0, $3, $4, $5, $6, $7)",
        )
        .bind(h.id.as_str())
        .bind(&h.name)
        .bind(h.period_ms)
        .bind(h.grace_ms)
        .bind(crate::domain::texts::DEFAULT_PRIORITY)
        .bind(&h.token_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = HeartbeatRow {
            id: h.id.clone(),
            name: h.name.clone(),
            state: HeartbeatState::New,
            configured: false,
            period_ms: h.period_ms,
            grace_ms: h.grace_ms,
            equipment_id: None,
            priority: crate::domain::texts::DEFAULT_PRIORITY.to_owned(),
            created_ms: now,
            watch_from_ms: None,
            last_ping_ms: None,
            last_source: None,
            last_stats: None,
            late_since_ms: None,
            cloned: false,
            cloned_sources: Vec::new(),
            open_request: None,
        };
        let event = Event::HeartbeatRegistered(row.snapshot());
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(row)
    }

    /// Changes a heartbeat's state with `heartbeat.approved` or
    /// `heartbeat.suspended`; an approval starts its deadline now. `None`
    /// when unknown.
    pub async fn set_heartbeat_state(
        &self,
        id: &HeartbeatId,
        state: HeartbeatState,
    ) -> Result<Option<HeartbeatRow>> {
        let Some(mut row) = self.get_heartbeat(id).await? else {
            return Ok(None);
        };
        if row.state == state {
            return Ok(Some(row));
        }
        let now = self.clock.now_ms();
        row.state = state;
        let event = match state {
            HeartbeatState::Active => {
                row.watch_from_ms = Some(now);
                Event::HeartbeatApproved(row.snapshot())
            }
            HeartbeatState::Suspended => Event::HeartbeatSuspended(row.snapshot()),
            HeartbeatState::New => Event::HeartbeatRegistered(row.snapshot()),
        };
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE heartbeats SET state = $1, watch_from_ms = $2 WHERE id = $3")
            .bind(state.as_str())
            .bind(row.watch_from_ms)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let seq = append_event(&mut tx, &self.routes(), &event, now).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(Some(row))
    }

    /// Gives the heartbeat a new token (its hash), which ends the old one
    /// and clears the `cloned` flag. `false` when unknown.
    pub async fn set_heartbeat_token(&self, id: &HeartbeatId, hash: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE heartbeats SET token_hash = $1, cloned = 0, cloned_sources = NULL WHERE id = $2",
        )
        .bind(hash)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a ping. When `resumed` carries a note (the heartbeat was
    /// late), writes `heartbeat.resumed` and closes its open request with
    /// that note (`recovered`). Returns the closed request.
    pub async fn heartbeat_pinged(
        &self,
        h: &HeartbeatRow,
        ping: &Ping,
        resumed: Option<&str>,
    ) -> Result<Option<RequestId>> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE heartbeats SET last_ping_ms = $1, last_source = $2, last_stats = COALESCE($3, last_stats), \
             late_since_ms = NULL WHERE id = $4",
        )
        .bind(ping.time_ms)
        .bind(&ping.source)
        .bind(ping.stats.as_deref())
        .bind(h.id.as_str())
        .execute(&mut *tx)
        .await?;
        let mut last = None;
        let mut closed = None;
        if let Some(note) = resumed {
            let mut now = h.clone();
            now.last_ping_ms = Some(ping.time_ms);
            now.late_since_ms = None;
            let event = Event::HeartbeatResumed(now.snapshot());
            last = Some(append_event(&mut tx, &self.routes(), &event, ping.time_ms).await?);
            let subject = Subject::Heartbeat(&h.id);
            let reason = CloseReason::Recovered;
            if let Some((req, seq)) =
                close_open_of(&mut tx, &self.routes(), subject, reason, note, ping.time_ms).await?
            {
                last = Some(seq);
                closed = Some(req.id);
            }
        }
        tx.commit().await?;
        self.published(last);
        Ok(closed)
    }

    /// The heartbeat is silent past its deadline: `heartbeat.missed` (once
    /// per silence), and `new` opens with `request.opened` unless one is
    /// open already. Returns the opened request.
    pub async fn heartbeat_missed(
        &self,
        h: &HeartbeatRow,
        new: &NewRequest,
    ) -> Result<Option<RequestId>> {
        let now = self.clock.now_ms();
        let subject = Subject::Heartbeat(&h.id);
        let mut tx = self.begin().await?;
        let mut late = h.clone();
        late.late_since_ms = Some(now);
        let newly = sqlx::query(
            "UPDATE heartbeats SET late_since_ms = $1 WHERE id = $2 AND late_since_ms IS NULL",
        )
        .bind(now)
        .bind(h.id.as_str())
        .execute(&mut *tx)
        .await?;
        let mut last = None;
        if newly.rows_affected() > 0 {
            let event = Event::HeartbeatMissed(late.snapshot());
            last = Some(append_event(&mut tx, &self.routes(), &event, now).await?);
        }
        let mut opened = None;
        if open_of(&mut tx, subject).await?.is_none() {
            let (req, seq) =
                open_with_event(&mut tx, &self.routes(), subject, new, None, now).await?;
            opened = Some(req.id);
            last = Some(seq);
        }
        tx.commit().await?;
        self.published(last);
        Ok(opened)
    }

    /// How many heartbeats are in each state.
    pub async fn heartbeat_counts(&self) -> Result<Vec<(HeartbeatState, i64)>> {
        let rows = sqlx::query(
            "SELECT state, CAST(COUNT(*) AS BIGINT) AS n FROM heartbeats GROUP BY state",
        )
        .fetch_all(&self.write)
        .await?;
        rows.iter()
            .map(|r| Ok((named(r, "heartbeats", "state")?, r.try_get("n")?)))
            .collect()
    }

    /// Flags the heartbeat `cloned` with the `sources` seen, with
    /// `heartbeat.cloned` only when it was not flagged yet. Returns
    /// whether it was flagged now.
    pub async fn heartbeat_cloned(&self, h: &HeartbeatRow, sources: &[String]) -> Result<bool> {
        let now = self.clock.now_ms();
        let json = serde_json::to_string(sources).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE heartbeats SET cloned = 1, cloned_sources = $1 WHERE id = $2 AND cloned = 0",
        )
        .bind(&json)
        .bind(h.id.as_str())
        .execute(&mut *tx)
        .await?;
        let flagged = done.rows_affected() > 0;
        let mut last = None;
        if flagged {
            let mut row = h.clone();
            row.cloned = true;
            row.cloned_sources = sources.to_vec();
            let event = Event::HeartbeatCloned(row.snapshot());
            last = Some(append_event(&mut tx, &self.routes(), &event, now).await?);
        }
        tx.commit().await?;
        self.published(last);
        Ok(flagged)
    }
}
