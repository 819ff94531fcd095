//! The layout before migration 0003, for comparison: the `results` table
//! and its index as 0001_initial.sql created them (read from it), written with the insert
//! the store used then (multi-row, `ON CONFLICT (agent_id, seq) DO
//! NOTHING`, one transaction per batch), on the same pragmas.

use std::path::Path;

use anyhow::Context as _;
use picket_collector::store::ResultRecord;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

/// The migration that created the old table (migrations never change).
const INITIAL: &str = include_str!("../../../collector/migrations/sqlite/0001_initial.sql");

/// 0001's `results` table and its index, cut from the migration.
fn ddl() -> anyhow::Result<&'static str> {
    let start = INITIAL
        .find("CREATE TABLE results (")
        .context("0001 has no results table")?;
    let index = "CREATE INDEX results_by_service_time ON results (service_id, time_ms);";
    let end = INITIAL.find(index).context("0001 has no results index")? + index.len();
    Ok(&INITIAL[start..end])
}

/// Rows per INSERT, as the store had it.
const ROWS_PER_STATEMENT: usize = 1000;

pub async fn write(file: &Path, batches: &[Vec<ResultRecord>]) -> anyhow::Result<()> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .with_context(|| format!("cannot create {}", file.display()))?;
    for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"] {
        sqlx::query(pragma).execute(&mut conn).await?;
    }
    sqlx::raw_sql(ddl()?).execute(&mut conn).await?;
    for batch in batches {
        let mut tx = conn.begin().await?;
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO results (agent_id, seq, service_id, round_id, time_ms, ok, status_code, error_kind, error, duration_us) ",
            );
            q.push_values(chunk, |mut b, r| {
                let o = &r.result.outcome;
                b.push_bind(r.agent.as_str().to_owned())
                    .push_bind(r.result.seq as i64)
                    .push_bind(r.result.service.as_str().to_owned())
                    .push_bind(r.result.round_id as i64)
                    .push_bind(r.result.started_at_ms)
                    .push_bind(i64::from(o.ok))
                    .push_bind(o.status_code.map(i64::from))
                    .push_bind(o.error_kind.map(|k| k.as_str().to_owned()))
                    .push_bind(o.error.clone())
                    .push_bind(o.duration_us as i64);
            });
            q.push(" ON CONFLICT (agent_id, seq) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    conn.close().await?;
    Ok(())
}
