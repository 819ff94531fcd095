//! Probe results and heartbeats: batched inserts, results idempotent per
//! (agent, seq).

use std::collections::HashMap;

use sqlx::{Any, QueryBuilder};

use super::agents::{HEARTBEAT_HISTORY_MS, HeartbeatRecord, write_heartbeats};
use super::{Result, Store, flag};
#[cfg(test)]
use crate::domain::ServiceId;
use crate::domain::{AgentId, ErrorKind, ProbeResult};

/// One result with the agent that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    pub agent: AgentId,
    pub result: ProbeResult,
}

/// Rows per INSERT statement (9 parameters each; SQLite allows 32766).
const ROWS_PER_STATEMENT: usize = 1000;

impl Store {
    /// Persists a batch in one transaction: the results (a replayed
    /// `(agent, seq)` is ignored), each service's latest outcome, each
    /// agent's highest committed seq, and the heartbeats (last seen, stats,
    /// pruned history). Acks may be sent once this returns.
    pub async fn record_batch(
        &self,
        batch: &[ResultRecord],
        heartbeats: &[HeartbeatRecord],
    ) -> Result<()> {
        if batch.is_empty() && heartbeats.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        let mut service_keys: HashMap<&str, i64> = HashMap::new();
        let mut agent_keys: HashMap<&str, i64> = HashMap::new();
        for r in batch {
            let service = r.result.service.as_str();
            if !service_keys.contains_key(service) {
                let key = key_of(&mut tx, KeyTable::Service, service).await?;
                service_keys.insert(service, key);
            }
            let agent = r.agent.as_str();
            if !agent_keys.contains_key(agent) {
                let key = key_of(&mut tx, KeyTable::Agent, agent).await?;
                agent_keys.insert(agent, key);
            }
        }
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let mut q: QueryBuilder<Any> = QueryBuilder::new(
                "INSERT INTO results (service, time_ms, agent, round_id, ok, duration_us, status_code, error_kind, error) ",
            );
            q.push_values(chunk, |mut b, r| {
                let o = &r.result.outcome;
                let failed = !o.ok;
                b.push_bind(service_keys[r.result.service.as_str()])
                    .push_bind(r.result.started_at_ms)
                    .push_bind(agent_keys[r.agent.as_str()])
                    .push_bind(r.result.round_id as i64)
                    .push_bind(flag(o.ok))
                    .push_bind(o.duration_us as i64)
                    .push_bind(o.status_code.map(i64::from))
                    .push_bind(o.error_kind.filter(|_| failed).map(error_kind_code))
                    .push_bind(o.error.clone().filter(|_| failed));
            });
            q.push(" ON CONFLICT (service, time_ms, agent, round_id) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }

        let mut latest: HashMap<&str, &ProbeResult> = HashMap::new();
        let mut max_seq: HashMap<&str, u64> = HashMap::new();
        for r in batch {
            let cur = latest.entry(r.result.service.as_str()).or_insert(&r.result);
            if r.result.started_at_ms >= cur.started_at_ms {
                *cur = &r.result;
            }
            let s = max_seq.entry(r.agent.as_str()).or_insert(0);
            *s = (*s).max(r.result.seq);
        }
        for (service, r) in latest {
            let o = &r.outcome;
            sqlx::query(
                "UPDATE services SET ok = $1, last_status_code = $2, last_error_kind = $3, last_error = $4, \
                 last_check_ms = $5, last_latency_us = $6 \
                 WHERE id = $7 AND (last_check_ms IS NULL OR last_check_ms <= $5)",
            )
            .bind(flag(o.ok))
            .bind(o.status_code.map(i64::from))
            .bind(o.error_kind.map(|k| k.as_str().to_owned()))
            .bind(o.error.clone())
            .bind(r.started_at_ms)
            .bind(o.duration_us as i64)
            .bind(service)
            .execute(&mut *tx)
            .await?;
        }
        for (agent, seq) in max_seq {
            sqlx::query("UPDATE agents SET last_seq = $1 WHERE id = $2 AND last_seq < $1")
                .bind(seq as i64)
                .bind(agent)
                .execute(&mut *tx)
                .await?;
        }
        write_heartbeats(&mut tx, heartbeats, HEARTBEAT_HISTORY_MS).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::record_batch`] without heartbeats.
    #[cfg(test)]
    pub async fn record_results(&self, batch: &[ResultRecord]) -> Result<()> {
        self.record_batch(batch, &[]).await
    }

    /// Number of stored results of `service`.
    #[cfg(test)]
    pub async fn count_results(&self, service: &ServiceId) -> Result<i64> {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM results r JOIN service_keys k ON k.key = r.service WHERE k.id = $1",
        )
            .bind(service.as_str())
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// The tables that give ids their small integer keys.
#[derive(Debug, Clone, Copy)]
enum KeyTable {
    Service,
    Agent,
}

/// The key of `id`, allocated on first use (never reused).
async fn key_of(tx: &mut sqlx::Transaction<'_, Any>, table: KeyTable, id: &str) -> Result<i64> {
    use sqlx::Row;
    let (insert, select) = match table {
        KeyTable::Service => (
            "INSERT INTO service_keys (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
            "SELECT key FROM service_keys WHERE id = $1",
        ),
        KeyTable::Agent => (
            "INSERT INTO agent_keys (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
            "SELECT key FROM agent_keys WHERE id = $1",
        ),
    };
    sqlx::query(insert).bind(id).execute(&mut **tx).await?;
    let row = sqlx::query(select).bind(id).fetch_one(&mut **tx).await?;
    Ok(row.try_get("key")?)
}

/// The stored code of an error kind: its place in `ErrorKind`'s
/// declaration, from 1 (the mapping migration 0003 uses).
fn error_kind_code(kind: ErrorKind) -> i64 {
    match kind {
        ErrorKind::HttpStatus => 1,
        ErrorKind::Timeout => 2,
        ErrorKind::Dns => 3,
        ErrorKind::Connect => 4,
        ErrorKind::Tls => 5,
        ErrorKind::Protocol => 6,
        ErrorKind::BodyMismatch => 7,
    }
}
