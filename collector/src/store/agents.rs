//! Agents: identity, hashed credential, state, liveness data, host stats.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use super::requests::{Subject, close_open_of, open_of, open_with_event};
use super::{Result, Store, StoreError, events::append_event, named, text_id};
use crate::domain::{
    AgentId, AgentSnapshot, AgentState, CloseReason, Event, HostStats, Liveness, NewRequest,
    RequestId,
};

#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub id: AgentId,
    pub name: String,
    pub region: String,
    pub labels: BTreeMap<String, String>,
    pub state: AgentState,
    /// SHA-256 (hex) of the issued credential.
    pub credential_hash: Option<String>,
    pub version: Option<String>,
    pub created_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub stats: Option<HostStats>,
    pub last_seq: u64,
}

pub(super) const AGENT_COLUMNS: &str = "id, name, region, labels, state, credential_hash, version, created_ms, last_seen_ms, stats, last_seq";

pub(super) fn agent_row(r: &sqlx::any::AnyRow) -> Result<AgentRow> {
    let corrupt = |reason: String| StoreError::Corrupt {
        table: "agents",
        reason,
    };
    let labels: String = r.try_get("labels")?;
    let stats: Option<String> = r.try_get("stats")?;
    Ok(AgentRow {
        id: text_id(r, "id")?,
        name: r.try_get("name")?,
        region: r.try_get("region")?,
        labels: serde_json::from_str(&labels).map_err(|e| corrupt(format!("labels: {e}")))?,
        state: named(r, "agents", "state")?,
        credential_hash: r.try_get("credential_hash")?,
        version: r.try_get("version")?,
        created_ms: r.try_get("created_ms")?,
        last_seen_ms: r.try_get("last_seen_ms")?,
        stats: stats
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| corrupt(format!("stats: {e}")))?,
        last_seq: r.try_get::<i64, _>("last_seq")?.max(0) as u64,
    })
}

impl AgentRow {
    /// The agent as `agent.*` events show it.
    pub fn snapshot(&self, liveness: Liveness) -> AgentSnapshot {
        AgentSnapshot {
            id: self.id.clone(),
            name: self.name.clone(),
            region: self.region.clone(),
            state: self.state,
            liveness,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

/// How long heartbeat history is kept.
pub const HEARTBEAT_HISTORY_MS: i64 = 7 * 24 * 3600 * 1000;

/// One heartbeat: the collector's receive time and the host's stats.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatRecord {
    pub agent: AgentId,
    pub time_ms: i64,
    pub stats: HostStats,
}

/// Writes heartbeats inside the caller's transaction: each agent's last
/// seen and latest stats, a row of history each, and history older than
/// `keep_ms` before the heartbeat pruned.
pub(super) async fn write_heartbeats(
    conn: &mut AnyConnection,
    heartbeats: &[HeartbeatRecord],
    keep_ms: i64,
) -> Result<()> {
    for hb in heartbeats {
        let json = serde_json::to_string(&hb.stats).unwrap_or_default();
        sqlx::query("UPDATE agents SET last_seen_ms = $1, stats = $2 WHERE id = $3")
            .bind(hb.time_ms)
            .bind(&json)
            .bind(hb.agent.as_str())
            .execute(&mut *conn)
            .await?;
        sqlx::query("INSERT INTO agent_heartbeats (agent_id, time_ms, stats) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(hb.agent.as_str())
            .bind(hb.time_ms)
            .bind(&json)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM agent_heartbeats WHERE agent_id = $1 AND time_ms < $2")
            .bind(hb.agent.as_str())
            .bind(hb.time_ms - keep_ms)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    pub async fn get_agent(&self, id: &AgentId) -> Result<Option<AgentRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"));
        sqlx::query(sql)
            .bind(id.as_str())
            .fetch_optional(&self.write)
            .await?
            .as_ref()
            .map(agent_row)
            .transpose()
    }

    pub async fn list_agents(&self) -> Result<Vec<AgentRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents ORDER BY region, name, id"
        ));
        sqlx::query(sql)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(agent_row)
            .collect()
    }

    /// Registers a new agent with the `agent.registered` event.
    pub async fn register_agent(&self, a: &AgentRow) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO agents (id, name, region, labels, state, credential_hash, version, created_ms, last_seen_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(a.id.as_str())
        .bind(&a.name)
        .bind(&a.region)
        .bind(serde_json::to_string(&a.labels).unwrap_or_else(|_| "{}".into()))
        .bind(a.state.as_str())
        .bind(&a.credential_hash)
        .bind(&a.version)
        .bind(a.created_ms)
        .bind(a.last_seen_ms)
        .execute(&mut *tx)
        .await?;
        let event = Event::AgentRegistered(a.snapshot(Liveness::Live));
        let seq = append_event(&mut tx, &self.routes(), &event, self.clock.now_ms()).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(())
    }

    /// Updates what an agent says about itself on a new connection.
    pub async fn agent_connected(&self, a: &AgentRow) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE agents SET name = $1, region = $2, labels = $3, version = $4, last_seen_ms = $5 WHERE id = $6")
            .bind(&a.name)
            .bind(&a.region)
            .bind(serde_json::to_string(&a.labels).unwrap_or_else(|_| "{}".into()))
            .bind(&a.version)
            .bind(a.last_seen_ms)
            .bind(a.id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An agent's heartbeat history since `since_ms`, oldest first.
    pub async fn agent_heartbeats(
        &self,
        id: &AgentId,
        since_ms: i64,
    ) -> Result<Vec<(i64, HostStats)>> {
        let rows = sqlx::query("SELECT time_ms, stats FROM agent_heartbeats WHERE agent_id = $1 AND time_ms >= $2 ORDER BY time_ms")
            .bind(id.as_str())
            .bind(since_ms)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                let stats: String = r.try_get("stats")?;
                let stats = serde_json::from_str(&stats).map_err(|e| StoreError::Corrupt {
                    table: "agent_heartbeats",
                    reason: e.to_string(),
                })?;
                Ok((r.try_get("time_ms")?, stats))
            })
            .collect()
    }

    /// Agents with an open `[AGENT DOWN]` request.
    pub async fn agents_with_open_request(&self) -> Result<Vec<AgentId>> {
        let rows = sqlx::query(
            "SELECT agent_id FROM requests WHERE stage = 'open' AND agent_id IS NOT NULL",
        )
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(|r| text_id(r, "agent_id")).collect()
    }

    /// The dead-man's switch fired: `agent.down`, and `new` (see
    /// `domain::texts::agent_down_request`) opens with `request.opened`
    /// unless the agent has an open request. Returns the new request's id.
    pub async fn agent_down(&self, a: &AgentRow, new: &NewRequest) -> Result<Option<RequestId>> {
        let now = self.clock.now_ms();
        let subject = Subject::Agent(&a.id);
        let dead = a.snapshot(Liveness::Dead);
        let mut tx = self.begin().await?;
        let event = Event::AgentDown(dead.clone());
        let mut last = append_event(&mut tx, &self.routes(), &event, now).await?;
        let mut opened = None;
        if open_of(&mut tx, subject).await?.is_none() {
            let (req, seq) =
                open_with_event(&mut tx, &self.routes(), subject, new, Some(dead), now).await?;
            opened = Some(req.id);
            last = seq;
        }
        tx.commit().await?;
        self.published(Some(last));
        Ok(opened)
    }

    /// A dead agent is back: `agent.up`, and its open request closes with
    /// `note` (`close_reason = recovered`) and `request.closed`. Returns the
    /// closed request's id.
    pub async fn agent_up(&self, a: &AgentRow, note: &str) -> Result<Option<RequestId>> {
        let now = self.clock.now_ms();
        let mut tx = self.begin().await?;
        let event = Event::AgentUp(a.snapshot(Liveness::Live));
        let mut last = append_event(&mut tx, &self.routes(), &event, now).await?;
        let closed = close_open_of(
            &mut tx,
            &self.routes(),
            Subject::Agent(&a.id),
            CloseReason::Recovered,
            note,
            now,
        )
        .await?;
        let closed = closed.map(|(req, seq)| {
            last = seq;
            req.id
        });
        tx.commit().await?;
        self.published(Some(last));
        Ok(closed)
    }

    /// Changes an agent's state, with `agent.approved` or `agent.suspended`
    /// when it changed. Returns the updated row.
    pub async fn set_agent_state(
        &self,
        a: &AgentRow,
        state: AgentState,
        liveness: Liveness,
    ) -> Result<AgentRow> {
        let mut row = a.clone();
        if a.state == state {
            return Ok(row);
        }
        row.state = state;
        let snapshot = row.snapshot(liveness);
        let event = match state {
            AgentState::Active => Event::AgentApproved(snapshot),
            AgentState::Suspended => Event::AgentSuspended(snapshot),
            AgentState::New => Event::AgentRegistered(snapshot),
        };
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE agents SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(a.id.as_str())
            .execute(&mut *tx)
            .await?;
        let seq = append_event(&mut tx, &self.routes(), &event, self.clock.now_ms()).await?;
        tx.commit().await?;
        self.published(Some(seq));
        Ok(row)
    }
}
