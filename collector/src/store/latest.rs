//! The latest result of each (service, agent) pair, with its phases and
//! certificate expiry: the `latest_results` table, written in
//! `record_batch`'s transaction (one multi-row upsert per 1000 pairs) and
//! read by `GetService`.
//!
//! A row is replaced only by a strictly newer result (by probe start), so a
//! replay or a late result from before changes nothing. Results carry
//! small integer keys; the read joins them back to ids, and to the agent's
//! name and region.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::backend::Backend;
use super::results::{error_kind_code, push_outcome, stored_us};
use super::rows::{Kind, statements};
use super::{Result, Store, StoreError};
use crate::domain::{AgentId, ErrorKind, Phases, ProbeOutcome, ProbeResult, ServiceId};

/// Pairs per upsert on SQLite (15 parameters each; SQLite allows 32766).
const ROWS_PER_STATEMENT: usize = 1000;

/// One agent's latest result for a service.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestResult {
    pub agent: AgentId,
    /// The agent's name and region (empty if the agent row is gone).
    pub agent_name: String,
    pub region: String,
    /// When the probe started.
    pub time_ms: i64,
    /// 0 for a scheduled probe, else the recheck round it answered.
    pub round_id: u64,
    pub outcome: ProbeOutcome,
}

/// Keeps, of `stored` (results with their (service, agent) keys, in batch
/// order), the newest of each pair (the later one on a tie), then upserts
/// them: a stored row changes only for a newer result. Returns the
/// statements run.
pub(super) async fn upsert_latest(
    conn: &mut AnyConnection,
    stored: impl IntoIterator<Item = ((i64, i64), &ProbeResult)>,
) -> Result<usize> {
    let mut newest: HashMap<(i64, i64), &ProbeResult> = HashMap::new();
    for (pair, r) in stored {
        let cur = newest.entry(pair).or_insert(r);
        if r.started_at_ms >= cur.started_at_ms {
            *cur = r;
        }
    }
    let rows: Vec<((i64, i64), &ProbeResult)> = newest.into_iter().collect();
    let mut kinds = [Kind::Int; 15];
    kinds[8] = Kind::Text; // error
    let mut statements_run = 0;
    for q in statements(
        Backend::of(conn),
        "INSERT INTO latest_results (service, agent, time_ms, round_id, ok, duration_us, \
         status_code, error_kind, error, dns_us, connect_us, tls_us, processing_us, transfer_us, cert_not_after_ms) ",
        &kinds,
        &rows,
        ROWS_PER_STATEMENT,
        " ON CONFLICT (service, agent) DO UPDATE SET time_ms = excluded.time_ms, \
         round_id = excluded.round_id, ok = excluded.ok, duration_us = excluded.duration_us, \
         status_code = excluded.status_code, error_kind = excluded.error_kind, \
         error = excluded.error, dns_us = excluded.dns_us, connect_us = excluded.connect_us, \
         tls_us = excluded.tls_us, processing_us = excluded.processing_us, \
         transfer_us = excluded.transfer_us, \
         cert_not_after_ms = excluded.cert_not_after_ms \
         WHERE excluded.time_ms > latest_results.time_ms",
        |b, ((service, agent), r)| {
            let o = &r.outcome;
            b.int(Some(*service))
                .int(Some(*agent))
                .int(Some(r.started_at_ms))
                .int(Some(r.round_id as i64));
            push_outcome(b, o);
            b.int(stored_us(o.phases.transfer_us))
                .int(o.cert_not_after_ms);
        },
    ) {
        q.execute(&mut *conn).await?;
        statements_run += 1;
    }
    Ok(statements_run)
}

impl Store {
    /// The latest result of each agent that reported on `service`, by
    /// agent name then id.
    pub async fn latest_results(&self, service: &ServiceId) -> Result<Vec<LatestResult>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT ak.id AS agent_id, COALESCE(a.name, '') AS agent_name, \
             COALESCE(a.region, '') AS region, {LATEST_COLUMNS} \
             FROM latest_results l \
             JOIN service_keys sk ON sk.key = l.service \
             JOIN agent_keys ak ON ak.key = l.agent \
             LEFT JOIN agents a ON a.id = ak.id \
             WHERE sk.id = $1 ORDER BY agent_name, agent_id"
        )))
        .bind(service.as_str())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(latest_row)
        .collect()
    }
}

/// The outcome columns of `latest_results l` that [`latest_row`] reads.
const LATEST_COLUMNS: &str = "l.time_ms, l.round_id, l.ok, l.duration_us, l.status_code, \
     l.error_kind, l.error, l.dns_us, l.connect_us, l.tls_us, l.processing_us, l.transfer_us, \
     l.cert_not_after_ms";

impl Store {
    /// The latest result of every (service, agent) pair, without the
    /// agents' names (`/metrics` seeds its table from it at start).
    pub async fn all_latest_results(&self) -> Result<Vec<(ServiceId, LatestResult)>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT sk.id AS service_id, ak.id AS agent_id, '' AS agent_name, '' AS region, \
             {LATEST_COLUMNS} FROM latest_results l \
             JOIN service_keys sk ON sk.key = l.service JOIN agent_keys ak ON ak.key = l.agent"
        )))
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("service_id")?.into(), latest_row(r)?)))
        .collect()
    }
}

impl Store {
    /// The configured services whose latest result from `agent` is a
    /// failure, by service id (the agent's page).
    pub async fn agent_failures(&self, agent: &AgentId) -> Result<Vec<(ServiceId, LatestResult)>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT sk.id AS service_id, ak.id AS agent_id, '' AS agent_name, '' AS region, \
             {LATEST_COLUMNS} FROM latest_results l \
             JOIN service_keys sk ON sk.key = l.service JOIN agent_keys ak ON ak.key = l.agent \
             JOIN services s ON s.id = sk.id \
             WHERE ak.id = $1 AND l.ok = 0 AND s.configured = 1 ORDER BY service_id"
        )))
        .bind(agent.as_str())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("service_id")?.into(), latest_row(r)?)))
        .collect()
    }
}

fn latest_row(r: &AnyRow) -> Result<LatestResult> {
    let us = |column: &str| -> Result<Option<u64>> {
        Ok(r.try_get::<Option<i64>, _>(column)?
            .and_then(|v| u64::try_from(v).ok()))
    };
    let error_kind = match r.try_get::<Option<i64>, _>("error_kind")? {
        None => None,
        Some(code) => Some(error_kind_of(code).ok_or_else(|| StoreError::Corrupt {
            table: "latest_results",
            reason: format!("unknown error kind code {code}"),
        })?),
    };
    Ok(LatestResult {
        agent: r.try_get::<String, _>("agent_id")?.into(),
        agent_name: r.try_get("agent_name")?,
        region: r.try_get("region")?,
        time_ms: r.try_get("time_ms")?,
        round_id: r.try_get::<i64, _>("round_id")?.max(0) as u64,
        outcome: ProbeOutcome {
            ok: r.try_get::<i64, _>("ok")? != 0,
            status_code: r
                .try_get::<Option<i64>, _>("status_code")?
                .and_then(|c| u16::try_from(c).ok()),
            error_kind,
            error: r.try_get("error")?,
            duration_us: us("duration_us")?.unwrap_or(0),
            phases: Phases {
                dns_us: us("dns_us")?,
                connect_us: us("connect_us")?,
                tls_us: us("tls_us")?,
                processing_us: us("processing_us")?,
                transfer_us: us("transfer_us")?,
            },
            cert_not_after_ms: r.try_get("cert_not_after_ms")?,
        },
    })
}

/// The error kind of a stored code.
pub(super) fn error_kind_of(code: i64) -> Option<ErrorKind> {
    ErrorKind::ALL
        .iter()
        .copied()
        .find(|k| error_kind_code(*k) == code)
}

#[cfg(test)]
mod tests;
