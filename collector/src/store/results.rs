//! Probe results and heartbeats: batched inserts into the compact
//! `results` table, idempotent per (service, time, agent, round), with the
//! rollups merged in the same transaction.
//!
//! Ids become small integer keys (`service_keys`, `agent_keys`) through a
//! [`KeyCache`] filled only after a commit, so a known id costs no statement
//! and a rolled-back key is never remembered. The insert returns the keys
//! it really stored: a replayed result (an agent's reconnect, a collector
//! restart) is neither counted in the rollups nor evaluated again.
//! `results` has no index beyond its primary key: reads go through the
//! rollups, and the pruner deletes by (service, time_ms), its prefix.
//! Phases and the certificate expiry go with each result (NULL when not
//! measured; the transfer phase, what the duration leaves after the other
//! four, is not stored there), and the newest stored result of each (service, agent) into
//! `latest_results` (`latest.rs`).

use std::collections::{HashMap, HashSet};

use sqlx::{Any, Row};

use super::agents::{HEARTBEAT_HISTORY_MS, HeartbeatRecord, write_heartbeats};
use super::backend::Backend;
use super::latest::upsert_latest;
use super::rollups::{Aggregates, merge_into};
use super::rows::{Kind, Values, statements};
use super::{Result, Store, flag};
#[cfg(test)]
use crate::domain::ServiceId;
use crate::domain::{AgentId, ErrorKind, ProbeOutcome, ProbeResult};

/// One result with the agent that sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    pub agent: AgentId,
    pub result: ProbeResult,
}

/// A result lent to [`Store::record_refs`] with the agent that sent it
/// (ingest writes what its sessions hold without copying it).
#[derive(Debug, Clone, Copy)]
pub struct ResultRef<'a> {
    pub agent: &'a AgentId,
    pub result: &'a ProbeResult,
}

/// What [`Store::record_batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Per record of the batch: stored now (false: a replay of a stored
    /// result, or a repeat within the batch).
    pub stored: Vec<bool>,
    /// SQL statements the transaction ran (begin and commit excluded).
    pub statements: usize,
}

/// Rows per INSERT statement on SQLite (14 parameters each; SQLite allows
/// 32766); PostgreSQL takes a batch in one statement (`rows.rs`).
const ROWS_PER_STATEMENT: usize = 1000;

/// Committed keys of service and agent ids.
#[derive(Debug, Default)]
pub(super) struct KeyCache {
    services: HashMap<String, i64>,
    agents: HashMap<String, i64>,
}

impl KeyCache {
    fn map(&mut self, table: KeyTable) -> &mut HashMap<String, i64> {
        match table {
            KeyTable::Service => &mut self.services,
            KeyTable::Agent => &mut self.agents,
        }
    }
}

/// A result's primary key: (service, time_ms, agent, round_id).
type RowKey = (i64, i64, i64, i64);

impl Store {
    /// Persists a batch in one transaction: the results (one already
    /// stored is ignored), their rollups, the latest result of each
    /// (service, agent) pair (a service's last check is read from it),
    /// each agent's highest committed seq, and the heartbeats (last seen,
    /// stats, pruned history). Acks may be sent once this returns.
    pub async fn record_batch(
        &self,
        batch: &[ResultRecord],
        heartbeats: &[HeartbeatRecord],
    ) -> Result<Recorded> {
        let refs: Vec<ResultRef<'_>> = batch
            .iter()
            .map(|r| ResultRef {
                agent: &r.agent,
                result: &r.result,
            })
            .collect();
        self.record_refs(&refs, heartbeats).await
    }

    /// [`Store::record_batch`] of borrowed results.
    pub async fn record_refs(
        &self,
        batch: &[ResultRef<'_>],
        heartbeats: &[HeartbeatRecord],
    ) -> Result<Recorded> {
        let mut done = Recorded {
            stored: vec![false; batch.len()],
            statements: 0,
        };
        if batch.is_empty() && heartbeats.is_empty() {
            return Ok(done);
        }
        let mut tx = self.begin().await?;
        let (mut services, mut agents, mut fresh) = self.cached_keys(batch);
        for (table, ids) in [
            (KeyTable::Service, &mut services),
            (KeyTable::Agent, &mut agents),
        ] {
            let missing: Vec<String> = ids
                .iter()
                .filter(|(_, k)| k.is_none())
                .map(|(id, _)| id.clone())
                .collect();
            for id in missing {
                let key = key_of(&mut tx, table, &id).await?;
                done.statements += 1;
                ids.insert(id.clone(), Some(key));
                fresh.push((table, id, key));
            }
        }
        let key = |ids: &HashMap<String, Option<i64>>, id: &str| ids[id].unwrap_or_default();
        let rows: Vec<RowKey> = batch
            .iter()
            .map(|r| {
                (
                    key(&services, r.result.service.as_str()),
                    r.result.started_at_ms,
                    key(&agents, r.agent.as_str()),
                    r.result.round_id as i64,
                )
            })
            .collect();
        let rows_with_keys: Vec<(&ResultRef<'_>, &RowKey)> = batch.iter().zip(&rows).collect();
        let (mut inserted, run) = insert_results(&mut tx, &rows_with_keys).await?;
        done.statements += run;
        let mut aggregates = Aggregates::default();
        let mut latest = Vec::new();
        for ((r, k), stored) in batch.iter().zip(&rows).zip(&mut done.stored) {
            // The first of repeats within the batch is the one stored.
            if inserted.remove(k) {
                *stored = true;
                let o = &r.result.outcome;
                aggregates.add(k.0, k.2, k.1, o.ok, o.duration_us);
                latest.push(((k.0, k.2), r.result));
            }
        }
        // Read while this transaction holds the write connection, so no
        // fold step commits in between (`rollups/fold.rs`).
        let fold = *self.fold.lock().unwrap_or_else(|e| e.into_inner());
        done.statements += merge_into(&mut tx, aggregates, fold).await?;
        done.statements += upsert_latest(&mut tx, latest).await?;

        let mut max_seq: HashMap<&str, u64> = HashMap::new();
        for r in batch {
            let s = max_seq.entry(r.agent.as_str()).or_insert(0);
            *s = (*s).max(r.result.seq);
        }
        // One statement for every agent of the batch (group commit
        // gathers many).
        let max_seq: Vec<(&str, u64)> = max_seq.into_iter().collect();
        for q in statements(
            Backend::of(&tx),
            "WITH v (id, seq) AS (",
            &[Kind::Text, Kind::Int],
            &max_seq,
            ROWS_PER_STATEMENT,
            ") UPDATE agents SET last_seq = v.seq FROM v \
             WHERE agents.id = v.id AND agents.last_seq < v.seq",
            |b, (agent, seq)| {
                b.text(Some(agent)).int(Some(*seq as i64));
            },
        ) {
            q.execute(&mut *tx).await?;
            done.statements += 1;
        }
        write_heartbeats(&mut tx, heartbeats, HEARTBEAT_HISTORY_MS).await?;
        tx.commit().await?;
        self.remember_keys(fresh);
        Ok(done)
    }

    /// The batch's distinct service and agent ids with their cached keys
    /// (`None`: not known yet).
    #[allow(clippy::type_complexity)]
    fn cached_keys(
        &self,
        batch: &[ResultRef<'_>],
    ) -> (
        HashMap<String, Option<i64>>,
        HashMap<String, Option<i64>>,
        Vec<(KeyTable, String, i64)>,
    ) {
        let cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let (mut services, mut agents) = (HashMap::new(), HashMap::new());
        for r in batch {
            let s = r.result.service.as_str();
            if !services.contains_key(s) {
                services.insert(s.to_owned(), cache.services.get(s).copied());
            }
            let a = r.agent.as_str();
            if !agents.contains_key(a) {
                agents.insert(a.to_owned(), cache.agents.get(a).copied());
            }
        }
        (services, agents, Vec::new())
    }

    /// Adds keys allocated or read by a committed transaction.
    fn remember_keys(&self, fresh: Vec<(KeyTable, String, i64)>) {
        if fresh.is_empty() {
            return;
        }
        let mut cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        for (table, id, key) in fresh {
            cache.map(table).insert(id, key);
        }
    }

    /// [`Store::record_batch`] without heartbeats.
    #[cfg(test)]
    pub async fn record_results(&self, batch: &[ResultRecord]) -> Result<Recorded> {
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

/// The key of `id`, allocated on first use (never reused): one upsert
/// that returns the key, stored or new.
async fn key_of(tx: &mut sqlx::Transaction<'_, Any>, table: KeyTable, id: &str) -> Result<i64> {
    let sql = match table {
        KeyTable::Service => {
            "INSERT INTO service_keys (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET id = excluded.id RETURNING key"
        }
        KeyTable::Agent => {
            "INSERT INTO agent_keys (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET id = excluded.id RETURNING key"
        }
    };
    let row = sqlx::query(sql).bind(id).fetch_one(&mut **tx).await?;
    Ok(row.try_get("key")?)
}

/// Inserts `rows` (each result with its key) into `results` and returns
/// the keys stored (a result already stored is ignored), and the
/// statements run. A `RETURNING` row per result costs about as much as
/// the insert itself, so the common case (nothing stored before, no
/// repeat within the batch) learns it from the row counts alone; only
/// when they fall short (a replay) is the insert rolled back to its
/// savepoint and run again, returning the keys it stores.
async fn insert_results(
    tx: &mut sqlx::Transaction<'_, Any>,
    rows: &[(&ResultRef<'_>, &RowKey)],
) -> Result<(HashSet<RowKey>, usize)> {
    let backend = Backend::of(tx);
    let insert = |tail: &str| {
        statements(
            backend,
            "INSERT INTO results (service, time_ms, agent, round_id, ok, duration_us, status_code, \
             error_kind, error, dns_us, connect_us, tls_us, processing_us, cert_not_after_s) ",
            &RESULT_KINDS,
            rows,
            ROWS_PER_STATEMENT,
            tail,
            |b, (r, k)| {
                let o = &r.result.outcome;
                b.int(Some(k.0))
                    .int(Some(k.1))
                    .int(Some(k.2))
                    .int(Some(k.3));
                push_outcome(b, o);
                b.int(o.cert_not_after_ms.map(|ms| ms.div_euclid(1000)));
            },
        )
    };
    const CONFLICT: &str = " ON CONFLICT (service, time_ms, agent, round_id) DO NOTHING";
    sqlx::query("SAVEPOINT insert_results")
        .execute(&mut **tx)
        .await?;
    let mut run = 1;
    let mut affected = 0;
    for q in insert(CONFLICT) {
        affected += q.execute(&mut **tx).await?.rows_affected();
        run += 1;
    }
    if affected == rows.len() as u64 {
        return Ok((rows.iter().map(|(_, k)| **k).collect(), run));
    }
    sqlx::query("ROLLBACK TO SAVEPOINT insert_results")
        .execute(&mut **tx)
        .await?;
    run += 1;
    let mut inserted = HashSet::new();
    let returning = format!("{CONFLICT} RETURNING service, time_ms, agent, round_id");
    for q in insert(&returning) {
        for row in q.fetch_all(&mut **tx).await? {
            inserted.insert((
                row.try_get("service")?,
                row.try_get("time_ms")?,
                row.try_get("agent")?,
                row.try_get("round_id")?,
            ));
        }
        run += 1;
    }
    Ok((inserted, run))
}

/// The column kinds of a `results` row, in [`Store::record_refs`]' order.
const RESULT_KINDS: [Kind; 14] = {
    let mut kinds = [Kind::Int; 14];
    kinds[8] = Kind::Text; // error
    kinds
};

/// Binds the outcome columns `results` and `latest_results` share, in
/// their order: ok, duration_us, status_code, error_kind and error (on
/// failures only), dns_us, connect_us, tls_us, processing_us.
pub(super) fn push_outcome(b: &mut dyn Values, o: &ProbeOutcome) {
    let failed = !o.ok;
    b.int(Some(flag(o.ok)))
        .int(Some(o.duration_us as i64))
        .int(o.status_code.map(i64::from))
        .int(o.error_kind.filter(|_| failed).map(error_kind_code))
        .text(o.error.as_deref().filter(|_| failed))
        .int(stored_us(o.phases.dns_us))
        .int(stored_us(o.phases.connect_us))
        .int(stored_us(o.phases.tls_us))
        .int(stored_us(o.phases.processing_us));
}

/// A phase as an SQL integer, NULL when not measured (phases are bounded
/// at the link's edge).
pub(super) fn stored_us(us: Option<u64>) -> Option<i64> {
    us.and_then(|v| i64::try_from(v).ok())
}

/// The stored code of an error kind: its place in `ErrorKind`'s
/// declaration, from 1 (the mapping migration 0003 uses).
pub(super) fn error_kind_code(kind: ErrorKind) -> i64 {
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
