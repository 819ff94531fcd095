//! Folding the daily rollups from their hours.
//!
//! Ingest merges each result into its hourly rows only; a day's daily row
//! is written once the day has ended ([`FOLD_GRACE_MS`] after), as the
//! merge of its hourly rows, by [`Store::fold_rollups`] (the retention
//! pass calls it, a few hundred keys a transaction), which spares ingest
//! a daily row read and written per result.
//!
//! The one `rollup_fold` row says how far folding has come: days before
//! `day_ms` are folded, and day `day_ms` is folded for the rollup keys up
//! to (`scope`, `key`), service keys first. So:
//! - a result of a day already folded for its key (an agent's buffer,
//!   sent late) is merged into the daily row as well (`merge_into`, from
//!   the leader's copy of the row in memory), and a fold replaces a daily
//!   row, so nothing is counted twice;
//! - a day from `day_ms` on is read as the merge of its hourly rows
//!   ([`Store::rollups`], `page_uptimes`): hourly rows are always whole.
//!
//! No row (a database from before this change, until the leader starts
//! folding): every daily row was merged by ingest, and still is.

use std::collections::BTreeMap;

use sqlx::{Any, QueryBuilder, Row};

use super::{RollupKey, SUMMARY_COLUMNS, summary_of, write_rows};
use crate::domain::rollup::{Period, Scope, Summary};
use crate::store::backend::numbered;
use crate::store::{Result, Store};

/// How long after a day ends its rows are folded. Its results that come
/// later are merged into its daily row as they come.
pub const FOLD_GRACE_MS: i64 = 30 * 60_000;

/// How far folding has come (the `rollup_fold` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) struct FoldState {
    pub day_ms: i64,
    pub scope: i64,
    pub key: i64,
}

impl FoldState {
    /// Whether the daily row of (`scope`, `key`) for the day starting at
    /// `day_ms` is folded, so that a result of that day must be merged
    /// into it.
    pub fn folded(&self, day_ms: i64, scope: i64, key: i64) -> bool {
        day_ms < self.day_ms || (day_ms == self.day_ms && (scope, key) <= (self.scope, self.key))
    }
}

/// The fold's state, `None` before folding starts.
pub(in crate::store) async fn state(conn: &mut sqlx::AnyConnection) -> Result<Option<FoldState>> {
    let row = sqlx::query("SELECT day_ms, scope, key FROM rollup_fold WHERE id = 1")
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(FoldState {
            day_ms: r.try_get("day_ms")?,
            scope: r.try_get("scope")?,
            key: r.try_get("key")?,
        })
    })
    .transpose()
}

/// What one [`Store::fold_rollups`] transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldStep {
    /// Daily rows written.
    pub rows: u64,
    /// Nothing left to fold at this time (every ended day is folded).
    pub done: bool,
}

impl Store {
    /// Starts folding with the day holding `now_ms` (its daily rows are
    /// then read from its hours until it is folded) if it has not
    /// started, and reads how far it has come for ingest; the leader calls
    /// it before ingest starts.
    pub async fn start_folding(&self, now_ms: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO rollup_fold (id, day_ms, scope, key) VALUES (1, $1, 0, 0) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(Period::Day.start_of(now_ms))
        .execute(&mut *tx)
        .await?;
        let at = state(&mut tx).await?;
        tx.commit().await?;
        self.remember_fold(at);
        Ok(())
    }

    /// What ingest reads of the fold's state. Set before the fold's own
    /// commit: should that fail, ingest merges a few daily rows not folded
    /// yet, which the fold's retry replaces; set after it, a commit in
    /// between could skip a late result's daily row.
    fn remember_fold(&self, at: Option<FoldState>) {
        *self.fold.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Folds the daily rows of up to `keys` rollup keys, from the first day
    /// not folded on, of the days that ended [`FOLD_GRACE_MS`] before
    /// `now_ms`, in one transaction: each daily row becomes the merge of
    /// its hourly rows. A day is done once each of its keys is folded.
    pub async fn fold_rollups(&self, now_ms: i64, keys: usize) -> Result<FoldStep> {
        let day = Period::Day.millis();
        let ended = |at: &FoldState| at.day_ms.saturating_add(day + FOLD_GRACE_MS) <= now_ms;
        let mut step = FoldStep::default();
        let mut tx = self.begin().await?;
        let Some(mut at) = state(&mut tx).await? else {
            step.done = true;
            return Ok(step);
        };
        let start = at;
        let mut budget = keys.max(1);
        while budget > 0 && ended(&at) {
            let (scope, table) = match at.scope {
                0 => (Scope::Service, "service_keys"),
                _ => (Scope::Agent, "agent_keys"),
            };
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT key FROM {table} WHERE key > $1 ORDER BY key LIMIT $2"
            ));
            let chunk: Vec<i64> = sqlx::query_scalar(sql)
                .bind(at.key)
                .bind(budget as i64)
                .fetch_all(&mut *tx)
                .await?;
            if let Some(&last) = chunk.last() {
                let rows = folded_days(&mut tx, scope, &chunk, at.day_ms).await?;
                write_rows(&mut tx, &rows).await?;
                step.rows += rows.len() as u64;
                at.key = last;
                budget -= chunk.len();
            }
            if budget > 0 {
                // This scope's keys are all folded: the agents' next, or
                // the next day.
                (at.day_ms, at.scope, at.key) = match scope {
                    Scope::Service => (at.day_ms, Scope::Agent.code(), 0),
                    Scope::Agent => (at.day_ms + day, Scope::Service.code(), 0),
                };
            }
        }
        step.done = !ended(&at);
        if at != start {
            self.remember_fold(Some(at));
            sqlx::query("UPDATE rollup_fold SET day_ms = $1, scope = $2, key = $3 WHERE id = 1")
                .bind(at.day_ms)
                .bind(at.scope)
                .bind(at.key)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(step)
    }

    /// The first day read from its hourly rows: the day folding is at
    /// (`i64::MAX` before folding starts: every daily row is merged).
    pub(in crate::store) async fn fold_cut(&self) -> Result<i64> {
        let mut conn = self.read.acquire().await?;
        Ok(state(&mut conn).await?.map_or(i64::MAX, |s| s.day_ms))
    }
}

/// The daily rows of `keys` for the day starting at `day_ms`, each the
/// merge of its hourly rows (keys without any have none).
async fn folded_days(
    conn: &mut sqlx::AnyConnection,
    scope: Scope,
    keys: &[i64],
    day_ms: i64,
) -> Result<Vec<(RollupKey, Summary)>> {
    let mut q: QueryBuilder<Any> = QueryBuilder::new(format!(
        "SELECT key, {SUMMARY_COLUMNS} FROM rollups WHERE scope = "
    ));
    q.push_bind(scope.code()).push(" AND key IN (");
    let mut list = q.separated(", ");
    for key in keys {
        list.push_bind(*key);
    }
    q.push(") AND period_s = ")
        .push_bind(Period::Hour.seconds())
        .push(" AND start_ms >= ")
        .push_bind(day_ms)
        .push(" AND start_ms < ")
        .push_bind(day_ms + Period::Day.millis());
    let backend = crate::store::Backend::of(&*conn);
    let mut days: BTreeMap<RollupKey, Summary> = BTreeMap::new();
    for row in numbered(backend, &mut q).fetch_all(&mut *conn).await? {
        let k = RollupKey {
            scope,
            key: row.try_get("key")?,
            period: Period::Day,
            start_ms: day_ms,
        };
        days.entry(k).or_default().merge(&summary_of(&row)?);
    }
    Ok(days.into_iter().collect())
}
