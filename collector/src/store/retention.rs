//! Retention: deleting old rows in short transactions, for the pruner
//! (`crate::retention`), which decides when, how much and how often.
//!
//! Every function here is one transaction on the write connection, which
//! ingest shares, so each deletes at most `limit` rows and returns. SQLite
//! is built without `DELETE ... LIMIT`, so a delete names its rows through
//! a `LIMIT`ed subquery on the primary key. Raw results are walked service
//! by service (`results` is clustered on (service, time_ms)), rollups
//! (scope, key, period) by (scope, key, period), each group found by a seek
//! past the last one; a [`PruneStep`] says where the next transaction
//! resumes. The latest result of each (service, agent) goes with the raw
//! results' retention. Events go by seq ranges with their finished webhook outbox
//! rows; an event with a pending delivery stays until the delivery ends
//! (delivered or given up), and goes in a later pass.

use sqlx::{Any, Row, Transaction};

use super::{Result, Store};

/// Where a walk over groups resumes: after this group (`START`: from the
/// first). Opaque outside the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneCursor([i64; 3]);

impl PruneCursor {
    /// Before every group.
    pub const START: PruneCursor = PruneCursor([i64::MIN; 3]);
}

/// What one pruning transaction over results or rollups did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneStep {
    /// Rows deleted in this transaction (at most the limit).
    pub rows: u64,
    /// Where the next transaction resumes; `None` when the walk is over.
    pub next: Option<PruneCursor>,
}

/// What one pruning transaction over events did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsStep {
    pub events: u64,
    /// Delivered and failed webhook outbox rows of those events.
    pub outbox: u64,
    /// The next transaction starts after this seq.
    pub last_seq: i64,
    /// No older event is left after `last_seq`.
    pub done: bool,
}

/// Groups one transaction visits at most (two index seeks each).
const GROUPS_PER_TRANSACTION: usize = 256;

/// A walk over groups: the statement finding the group after a cursor
/// (binding `width` values) and the one deleting a group's oldest rows
/// (binding the group's `width` values, the cutoff and the limit).
struct Walk {
    next: &'static str,
    delete: &'static str,
    width: usize,
}

const RESULTS: Walk = Walk {
    next: "SELECT service AS g0, 0 AS g1, 0 AS g2 FROM results WHERE service > $1 \
           ORDER BY service LIMIT 1",
    delete: "DELETE FROM results WHERE service = $1 AND (time_ms, agent, round_id) IN \
             (SELECT time_ms, agent, round_id FROM results WHERE service = $1 AND time_ms < $2 \
              ORDER BY time_ms, agent, round_id LIMIT $3)",
    width: 1,
};

/// A rollup goes once its period ended at or before the cutoff:
/// `start_ms + period_s * 1000 <= cutoff`.
const ROLLUPS: Walk = Walk {
    next: "SELECT scope AS g0, key AS g1, period_s AS g2 FROM rollups \
           WHERE (scope, key, period_s) > ($1, $2, $3) ORDER BY scope, key, period_s LIMIT 1",
    delete: "DELETE FROM rollups WHERE scope = $1 AND key = $2 AND period_s = $3 AND start_ms IN \
             (SELECT start_ms FROM rollups WHERE scope = $1 AND key = $2 AND period_s = $3 \
              AND start_ms <= $4 - $3 * 1000 ORDER BY start_ms LIMIT $5)",
    width: 3,
};

/// The latest result of an agent for a service goes once it is older than
/// the raw results' retention: that agent no longer probes the service (it
/// was removed, unassigned or has been dead that long).
const LATEST: Walk = Walk {
    next: "SELECT service AS g0, 0 AS g1, 0 AS g2 FROM latest_results WHERE service > $1 \
           ORDER BY service LIMIT 1",
    delete: "DELETE FROM latest_results WHERE service = $1 AND agent IN \
             (SELECT agent FROM latest_results WHERE service = $1 AND time_ms < $2 \
              ORDER BY agent LIMIT $3)",
    width: 1,
};

impl Store {
    /// Deletes up to `limit` raw results older than `before_ms`, oldest
    /// first within each service, walking services from `from`.
    pub async fn prune_results(
        &self,
        from: PruneCursor,
        before_ms: i64,
        limit: u64,
    ) -> Result<PruneStep> {
        self.walk(&RESULTS, from, before_ms, limit).await
    }

    /// Deletes up to `limit` rollups whose period ended at or before
    /// `ended_by_ms`, walking (scope, key, period) groups from `from`.
    pub async fn prune_rollups(
        &self,
        from: PruneCursor,
        ended_by_ms: i64,
        limit: u64,
    ) -> Result<PruneStep> {
        self.walk(&ROLLUPS, from, ended_by_ms, limit).await
    }

    /// Deletes up to `limit` latest results (of one agent for one service)
    /// older than `before_ms`, walking services from `from`.
    pub async fn prune_latest(
        &self,
        from: PruneCursor,
        before_ms: i64,
        limit: u64,
    ) -> Result<PruneStep> {
        self.walk(&LATEST, from, before_ms, limit).await
    }

    async fn walk(
        &self,
        walk: &Walk,
        from: PruneCursor,
        cutoff_ms: i64,
        limit: u64,
    ) -> Result<PruneStep> {
        let limit = limit.max(1);
        let mut tx = self.begin().await?;
        let mut cursor = from;
        let mut rows = 0;
        for _ in 0..GROUPS_PER_TRANSACTION {
            let mut next = sqlx::query(walk.next);
            for v in &cursor.0[..walk.width] {
                next = next.bind(*v);
            }
            let Some(row) = next.fetch_optional(&mut *tx).await? else {
                tx.commit().await?;
                return Ok(PruneStep { rows, next: None });
            };
            let group = PruneCursor([row.try_get("g0")?, row.try_get("g1")?, row.try_get("g2")?]);
            let mut delete = sqlx::query(walk.delete);
            for v in &group.0[..walk.width] {
                delete = delete.bind(*v);
            }
            rows += delete
                .bind(cutoff_ms)
                .bind((limit - rows) as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if rows >= limit {
                // The group may hold more: the next transaction starts at it.
                break;
            }
            cursor = group;
        }
        tx.commit().await?;
        Ok(PruneStep {
            rows,
            next: Some(cursor),
        })
    }

    /// Deletes events older than `before_ms` after seq `after_seq`, with
    /// their delivered and failed outbox rows, at most `limit` rows in all;
    /// an event with a pending delivery stays.
    pub async fn prune_events(
        &self,
        after_seq: i64,
        before_ms: i64,
        limit: u64,
    ) -> Result<EventsStep> {
        let mut tx = self.begin().await?;
        let webhooks = outbox_webhooks(&mut tx).await?;
        // Each event has at most one outbox row per receiver.
        let per_tx = (limit / (1 + webhooks.len() as u64)).max(1);
        let rows =
            sqlx::query("SELECT seq, time_ms FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after_seq)
                .bind(per_tx as i64)
                .fetch_all(&mut *tx)
                .await?;
        let mut old = Vec::with_capacity(rows.len());
        for r in &rows {
            if r.try_get::<i64, _>("time_ms")? >= before_ms {
                break;
            }
            old.push(r.try_get::<i64, _>("seq")?);
        }
        let done = (old.len() as u64) < per_tx;
        let (Some(&first), Some(&last)) = (old.first(), old.last()) else {
            tx.rollback().await?;
            return Ok(EventsStep {
                events: 0,
                outbox: 0,
                last_seq: after_seq,
                done: true,
            });
        };
        let mut held: Vec<i64> = Vec::new();
        let mut outbox = 0;
        for webhook in &webhooks {
            let pending = sqlx::query(
                "SELECT event_seq FROM webhook_outbox WHERE webhook = $1 \
                 AND event_seq BETWEEN $2 AND $3 AND state = 'pending'",
            )
            .bind(webhook)
            .bind(first)
            .bind(last)
            .fetch_all(&mut *tx)
            .await?;
            for r in pending {
                held.push(r.try_get("event_seq")?);
            }
            outbox += sqlx::query(
                "DELETE FROM webhook_outbox WHERE webhook = $1 \
                 AND event_seq BETWEEN $2 AND $3 AND state <> 'pending'",
            )
            .bind(webhook)
            .bind(first)
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        held.sort_unstable();
        held.dedup();
        let mut events = 0;
        for (lo, hi) in ranges_between(first, last, &held) {
            events += sqlx::query("DELETE FROM events WHERE seq BETWEEN $1 AND $2")
                .bind(lo)
                .bind(hi)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(EventsStep {
            events,
            outbox,
            last_seq: last,
            done,
        })
    }
}

/// Every receiver that has outbox rows, by seeks along the
/// (webhook, event_seq) index.
async fn outbox_webhooks(tx: &mut Transaction<'_, Any>) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    loop {
        let after = names.last().map_or("", String::as_str);
        let row = sqlx::query(
            "SELECT webhook FROM webhook_outbox WHERE webhook > $1 ORDER BY webhook LIMIT 1",
        )
        .bind(after)
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some(r) => names.push(r.try_get("webhook")?),
            None => return Ok(names),
        }
    }
}

/// The ranges covering `first..=last` without the (sorted) `held` seqs.
fn ranges_between(first: i64, last: i64, held: &[i64]) -> Vec<(i64, i64)> {
    let mut ranges = Vec::new();
    let mut lo = first;
    for &h in held.iter().filter(|h| (first..=last).contains(*h)) {
        if h > lo {
            ranges.push((lo, h - 1));
        }
        lo = h + 1;
    }
    if lo <= last {
        ranges.push((lo, last));
    }
    ranges
}

#[cfg(test)]
impl Store {
    /// Rows in `table` (tests only).
    pub async fn count_rows(&self, table: &'static str) -> Result<i64> {
        let sql = match table {
            "results" => "SELECT COUNT(*) AS n FROM results",
            "latest_results" => "SELECT COUNT(*) AS n FROM latest_results",
            "rollups" => "SELECT COUNT(*) AS n FROM rollups",
            "events" => "SELECT COUNT(*) AS n FROM events",
            "webhook_outbox" => "SELECT COUNT(*) AS n FROM webhook_outbox",
            other => panic!("count_rows: unknown table {other}"),
        };
        let row = sqlx::query(sql).fetch_one(&self.read).await?;
        Ok(row.try_get("n")?)
    }

    /// Writes an empty rollup row (tests only; the rollup module owns the
    /// real ones).
    pub async fn insert_rollup(
        &self,
        scope: i64,
        key: i64,
        period_s: i64,
        start_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO rollups (scope, key, period_s, start_ms, probes, failures, latency_count, \
             latency_sum_us, histogram) VALUES ($1, $2, $3, $4, 1, 0, 0, 0, $5)",
        )
        .bind(scope)
        .bind(key)
        .bind(period_s)
        .bind(start_ms)
        .bind(Vec::<u8>::new())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Rollup start times of one (scope, key, period), oldest first (tests only).
    pub async fn rollup_starts(&self, scope: i64, key: i64, period_s: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT start_ms FROM rollups WHERE scope = $1 AND key = $2 AND period_s = $3 ORDER BY start_ms",
        )
        .bind(scope)
        .bind(key)
        .bind(period_s)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("start_ms")?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ranges_between;

    #[test]
    fn ranges_skip_held_seqs() {
        for (first, last, held, expected) in [
            (1, 5, vec![], vec![(1, 5)]),
            (1, 5, vec![3], vec![(1, 2), (4, 5)]),
            (1, 5, vec![1, 5], vec![(2, 4)]),
            (1, 5, vec![1, 2, 3, 4, 5], vec![]),
            (3, 3, vec![3], vec![]),
            (3, 4, vec![1, 9], vec![(3, 4)]),
        ] {
            assert_eq!(ranges_between(first, last, &held), expected, "{held:?}");
        }
    }
}
