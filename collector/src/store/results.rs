//! Probe results and heartbeats: batched inserts, results idempotent per
//! (agent, seq).

use std::collections::HashMap;

use sqlx::{Any, QueryBuilder};

use super::agents::{HEARTBEAT_HISTORY_MS, HeartbeatRecord, write_heartbeats};
use super::{Result, Store, flag};
#[cfg(test)]
use crate::domain::ServiceId;
use crate::domain::{AgentId, ProbeResult};

/// One result with the agent that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    pub agent: AgentId,
    pub result: ProbeResult,
}

/// Rows per INSERT statement (10 parameters each; SQLite allows 32766).
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
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let mut q: QueryBuilder<Any> = QueryBuilder::new(
                "INSERT INTO results (agent_id, seq, service_id, round_id, time_ms, ok, status_code, error_kind, error, duration_us) ",
            );
            q.push_values(chunk, |mut b, r| {
                let o = &r.result.outcome;
                b.push_bind(r.agent.as_str().to_owned())
                    .push_bind(r.result.seq as i64)
                    .push_bind(r.result.service.as_str().to_owned())
                    .push_bind(r.result.round_id as i64)
                    .push_bind(r.result.started_at_ms)
                    .push_bind(flag(o.ok))
                    .push_bind(o.status_code.map(i64::from))
                    .push_bind(o.error_kind.map(|k| k.as_str().to_owned()))
                    .push_bind(o.error.clone())
                    .push_bind(o.duration_us as i64);
            });
            q.push(" ON CONFLICT (agent_id, seq) DO NOTHING");
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
        let row = sqlx::query("SELECT COUNT(*) AS n FROM results WHERE service_id = $1")
            .bind(service.as_str())
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("n")?)
    }
}
