//! Rollups: the hourly and daily rows per service (scope 0) and per agent
//! (scope 1), merged in as results commit and read for `GetService` (and
//! the status page). The arithmetic is `domain::rollup`'s; this module
//! owns the rows.
//!
//! **Write path.** `record_batch` hands [`merge_into`] the batch's newly
//! stored results aggregated in memory per (scope, key, period, start), in
//! its own transaction. Each aggregate is read (one `SELECT` per 900 rows,
//! OR-ing a `key IN (…)` term per scope, period and start), merged and
//! written back (one multi-row upsert per 500 rows): two statements per
//! batch of usual size. Daily rows are merged there only for a day already
//! folded (`fold.rs`: a day's daily rows are written from its hours once
//! it has ended); until then a day is read from its hours. A replayed
//! result is not stored again, so it is never counted twice.
//!
//! Only the primary key (scope, key, period_s, start_ms) is indexed: the
//! reads and the retention pruner select by exactly that prefix.

use std::collections::{BTreeMap, HashMap};

use sqlx::any::AnyRow;
use sqlx::{Any, QueryBuilder, Row, Transaction};

use super::backend::{Backend, numbered};
use super::rows::{Kind, statements};
use super::{Result, Store, StoreError};
use crate::domain::rollup::{Histogram, History, Latency, Period, Scope, Summary};

/// Keys per `SELECT … IN` (SQLite allows 32766 parameters).
const KEYS_PER_SELECT: usize = 900;
/// Rows per upsert (11 parameters each).
const ROWS_PER_UPSERT: usize = 500;
/// Daily bars in a [`History`].
pub const DAILY_BARS: i64 = 90;

pub(super) use fold::FoldState;
pub use fold::{FOLD_GRACE_MS, FoldStep};

/// Which rollup row an aggregate belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct RollupKey {
    pub scope: Scope,
    pub key: i64,
    pub period: Period,
    pub start_ms: i64,
}

/// A batch's results summed per rollup row.
#[derive(Debug, Default)]
pub(super) struct Aggregates(HashMap<RollupKey, Summary>);

impl Aggregates {
    /// Counts one stored result into its service's and its agent's hour
    /// and day.
    pub fn add(&mut self, service: i64, agent: i64, time_ms: i64, ok: bool, duration_us: u64) {
        for (scope, key) in [(Scope::Service, service), (Scope::Agent, agent)] {
            for period in Period::ALL {
                let start_ms = period.start_of(time_ms);
                let k = RollupKey {
                    scope,
                    key,
                    period,
                    start_ms,
                };
                self.0.entry(k).or_default().record(ok, duration_us);
            }
        }
    }
}

/// Merges `aggregates` into their stored rows (daily ones only where
/// `fold` says their day is folded; all of them before folding starts);
/// returns the number of statements it ran.
pub(super) async fn merge_into(
    tx: &mut Transaction<'_, Any>,
    aggregates: Aggregates,
    fold: Option<FoldState>,
) -> Result<usize> {
    // A daily row is merged here only once its day is folded for its key
    // (a late result); until then its hours are what counts (`fold.rs`).
    let mut run = 0;
    let mut aggregates = aggregates.0;
    if let Some(fold) = fold {
        aggregates.retain(|k, _| {
            k.period == Period::Hour || fold.folded(k.start_ms, k.scope.code(), k.key)
        });
    }
    let mut merged: BTreeMap<RollupKey, Summary> = aggregates.into_iter().collect();
    // Sorted by (scope, period, start, key): a chunk's keys of one row
    // group are adjacent and become one `key IN (…)` term.
    let mut wanted: Vec<RollupKey> = merged.keys().copied().collect();
    wanted.sort_by_key(|k| (k.scope, k.period, k.start_ms, k.key));
    let mut groups: HashMap<(i64, i64, i64), (Scope, Period)> = HashMap::new();
    let mut reads = Vec::new();
    if Backend::of(tx) == Backend::Postgres {
        for k in &wanted {
            groups.insert(
                (k.scope.code(), k.period.seconds(), k.start_ms),
                (k.scope, k.period),
            );
        }
        // One statement for any number of keys (`rows.rs`).
        reads = statements(
            Backend::Postgres,
            "WITH v (scope, key, period_s, start_ms) AS (",
            &[Kind::Int; 4],
            &wanted,
            KEYS_PER_SELECT,
            &format!(
                ") SELECT r.scope, r.period_s, r.start_ms, r.key, {SUMMARY_COLUMNS} FROM rollups r \
                 JOIN v ON r.scope = v.scope AND r.key = v.key AND r.period_s = v.period_s \
                 AND r.start_ms = v.start_ms"
            ),
            |b, k| {
                b.int(Some(k.scope.code()))
                    .int(Some(k.key))
                    .int(Some(k.period.seconds()))
                    .int(Some(k.start_ms));
            },
        );
        wanted.clear();
    }
    for chunk in wanted.chunks(KEYS_PER_SELECT) {
        let mut q: QueryBuilder<Any> = QueryBuilder::new(format!(
            "SELECT scope, period_s, start_ms, key, {SUMMARY_COLUMNS} FROM rollups WHERE "
        ));
        for (i, group) in chunk
            .chunk_by(|a, b| (a.scope, a.period, a.start_ms) == (b.scope, b.period, b.start_ms))
            .enumerate()
        {
            let g = group[0];
            groups.insert(
                (g.scope.code(), g.period.seconds(), g.start_ms),
                (g.scope, g.period),
            );
            q.push(if i == 0 { "(scope = " } else { " OR (scope = " })
                .push_bind(g.scope.code())
                .push(" AND period_s = ")
                .push_bind(g.period.seconds())
                .push(" AND start_ms = ")
                .push_bind(g.start_ms)
                .push(" AND key IN (");
            let mut list = q.separated(", ");
            for k in group {
                list.push_bind(k.key);
            }
            q.push("))");
        }
        reads.push(numbered(Backend::of(tx), &mut q));
    }
    for read in reads {
        let rows = read.fetch_all(&mut **tx).await?;
        run += 1;
        for row in rows {
            let start_ms: i64 = row.try_get("start_ms")?;
            let group = (row.try_get("scope")?, row.try_get("period_s")?, start_ms);
            let Some(&(scope, period)) = groups.get(&group) else {
                continue;
            };
            let k = RollupKey {
                scope,
                key: row.try_get("key")?,
                period,
                start_ms,
            };
            let stored = summary_of(&row)?;
            if let Some(s) = merged.get_mut(&k) {
                s.merge(&stored);
            }
        }
    }
    let rows: Vec<(RollupKey, Summary)> = merged.into_iter().collect();
    Ok(run + write_rows(tx, &rows).await?)
}

/// Writes `rows` whole (an existing row is replaced); returns the number
/// of statements it ran.
async fn write_rows(tx: &mut Transaction<'_, Any>, rows: &[(RollupKey, Summary)]) -> Result<usize> {
    let mut run = 0;
    let mut kinds = [Kind::Int; 11];
    kinds[10] = Kind::Bytes; // histogram
    for q in statements(
        Backend::of(tx),
        &format!("INSERT INTO rollups (scope, key, period_s, start_ms, {SUMMARY_COLUMNS}) "),
        &kinds,
        rows,
        ROWS_PER_UPSERT,
        " ON CONFLICT (scope, key, period_s, start_ms) DO UPDATE SET \
         probes = excluded.probes, failures = excluded.failures, \
         latency_count = excluded.latency_count, latency_sum_us = excluded.latency_sum_us, \
         latency_min_us = excluded.latency_min_us, latency_max_us = excluded.latency_max_us, \
         histogram = excluded.histogram",
        |b, (k, s)| {
            let l = &s.latency;
            b.int(Some(k.scope.code()))
                .int(Some(k.key))
                .int(Some(k.period.seconds()))
                .int(Some(k.start_ms))
                .int(Some(s.probes as i64))
                .int(Some(s.failures as i64))
                .int(Some(l.count as i64))
                .int(Some(l.sum_us as i64))
                .int(l.min_us.map(|v| v as i64))
                .int(l.max_us.map(|v| v as i64))
                .bytes(&l.histogram.encode());
        },
    ) {
        q.execute(&mut **tx).await?;
        run += 1;
    }
    Ok(run)
}

const SUMMARY_COLUMNS: &str =
    "probes, failures, latency_count, latency_sum_us, latency_min_us, latency_max_us, histogram";

fn summary_of(row: &AnyRow) -> Result<Summary> {
    let count = |column: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(column)?.max(0) as u64) };
    let opt = |column: &str| -> Result<Option<u64>> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(|v| v.max(0) as u64))
    };
    let blob: Vec<u8> = row.try_get("histogram")?;
    let histogram = Histogram::decode(&blob).map_err(|e| StoreError::Corrupt {
        table: "rollups",
        reason: e.to_string(),
    })?;
    Ok(Summary {
        probes: count("probes")?,
        failures: count("failures")?,
        latency: Latency {
            count: count("latency_count")?,
            sum_us: count("latency_sum_us")?,
            min_us: opt("latency_min_us")?,
            max_us: opt("latency_max_us")?,
            histogram,
        },
    })
}

impl Store {
    /// The rollups of service or agent `id` for `period` whose start is in
    /// `[from_ms, to_ms)`, oldest first, as (start ms, summary). A day not
    /// yet folded is the merge of its hourly rows.
    pub async fn rollups(
        &self,
        scope: Scope,
        id: &str,
        period: Period,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, Summary)>> {
        if period == Period::Hour {
            return self.stored_rollups(scope, id, period, from_ms, to_ms).await;
        }
        let cut = self.fold_cut().await?;
        let mut days = self
            .stored_rollups(scope, id, period, from_ms, to_ms.min(cut))
            .await?;
        if to_ms > cut {
            let day = Period::Day;
            let hours_to = day
                .start_of(to_ms.saturating_sub(1))
                .saturating_add(day.millis());
            let hours_from = day.start_of(from_ms.max(cut));
            let mut folded: BTreeMap<i64, Summary> = BTreeMap::new();
            for (start, s) in self
                .stored_rollups(scope, id, Period::Hour, hours_from, hours_to)
                .await?
            {
                folded.entry(day.start_of(start)).or_default().merge(&s);
            }
            days.extend(
                folded
                    .into_iter()
                    .filter(|(d, _)| (from_ms..to_ms).contains(d)),
            );
        }
        Ok(days)
    }

    /// The rollup rows stored for `period` whose start is in
    /// `[from_ms, to_ms)`, oldest first.
    async fn stored_rollups(
        &self,
        scope: Scope,
        id: &str,
        period: Period,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, Summary)>> {
        let keys = match scope {
            Scope::Service => "service_keys",
            Scope::Agent => "agent_keys",
        };
        // Built from constants only.
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT r.start_ms, {} FROM rollups r JOIN {keys} k ON k.key = r.key \
             WHERE k.id = $1 AND r.scope = $2 AND r.period_s = $3 AND r.start_ms >= $4 AND r.start_ms < $5 \
             ORDER BY r.start_ms",
            SUMMARY_COLUMNS
                .split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let rows = sqlx::query(sql)
            .bind(id)
            .bind(scope.code())
            .bind(period.seconds())
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("start_ms")?, summary_of(r)?)))
            .collect()
    }

    /// Uptime and latency of service or agent `id` over the last 24 h and
    /// 7 d (hourly rows) and 30 d (daily rows), the current partial period
    /// included, and its last [`DAILY_BARS`] days (empty days too).
    pub async fn history(&self, scope: Scope, id: &str, now_ms: i64) -> Result<History> {
        let (hour, day) = (Period::Hour.millis(), Period::Day.millis());
        let this_hour = Period::Hour.start_of(now_ms);
        let today = Period::Day.start_of(now_ms);
        let hours = self
            .rollups(
                scope,
                id,
                Period::Hour,
                this_hour - 167 * hour,
                this_hour + hour,
            )
            .await?;
        let days = self
            .rollups(
                scope,
                id,
                Period::Day,
                today - (DAILY_BARS - 1) * day,
                today + day,
            )
            .await?;
        let total = |rows: &[(i64, Summary)], from: i64| {
            let mut s = Summary::default();
            rows.iter()
                .filter(|(start, _)| *start >= from)
                .for_each(|(_, r)| s.merge(r));
            s
        };
        let mut by_day: HashMap<i64, Summary> = days.iter().cloned().collect();
        Ok(History {
            last_24h: total(&hours, this_hour - 23 * hour),
            last_7d: total(&hours, i64::MIN),
            last_30d: total(&days, today - 29 * day),
            daily: (0..DAILY_BARS)
                .map(|i| {
                    let start = today - (DAILY_BARS - 1 - i) * day;
                    (start, by_day.remove(&start).unwrap_or_default())
                })
                .collect(),
        })
    }
}

mod fold;
#[cfg(test)]
mod tests;
