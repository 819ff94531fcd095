//! `picket-store-bytes`: bytes per stored result, the compact layout
//! (through `Store::record_batch`, rollups included) against the layout
//! before migration 0003, written side by side in one run.
//!
//! It generates N realistic results (services probed every interval by
//! every agent, each service with its own typical latency, a small share of
//! failures with short error texts), writes them in ingest-sized batches to
//! a fresh collector database and, with the old statement shape, to a
//! second SQLite file holding only the old `results` table and its index.
//! Then it VACUUMs both and prints, per layout, bytes per result (file size
//! ÷ rows) and rows per second, plus the statements per batch and the
//! rollups' bytes per service-hour (the file shrinks by that much when the
//! rollups are deleted).

mod before;
mod data;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use picket_collector::store::{EventSettings, Store};
use picket_collector::time::Clock;
use sqlx::{Connection, SqliteConnection};

/// Bytes per stored result, compact layout against the previous one.
#[derive(Parser, Clone)]
#[command(version, about)]
pub struct Args {
    /// Results to write.
    #[arg(long, default_value_t = 1_000_000)]
    results: usize,
    /// Services probed.
    #[arg(long, default_value_t = 1000)]
    services: usize,
    /// Agents probing every service.
    #[arg(long, default_value_t = 3)]
    agents: usize,
    /// Probe interval in seconds.
    #[arg(long, default_value_t = 60)]
    interval_s: i64,
    /// Share of failed probes.
    #[arg(long, default_value_t = 0.01)]
    failure_rate: f64,
    /// Results per transaction (ingest takes up to 5000).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Directory for the two database files (default: a new temp dir,
    /// removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.results > 0 && args.services > 0 && args.agents > 0 && args.batch > 0,
        "zero load"
    );
    let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => {
            let d = std::env::temp_dir().join(format!("picket-store-bytes-{}", std::process::id()));
            (d, true)
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let outcome = runtime.block_on(run(&args, &dir));
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

async fn run(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let batches = data::generate(args);
    let rows: usize = batches.iter().map(Vec::len).sum();
    let failures = batches
        .iter()
        .flatten()
        .filter(|r| !r.result.outcome.ok)
        .count();
    println!(
        "{rows} results ({failures} failed), {} services x {} agents every {} s, batches of {}",
        args.services, args.agents, args.interval_s, args.batch
    );

    let after = dir.join("after.db");
    let store = Store::open(
        &format!("sqlite://{}", after.display()),
        EventSettings::default(),
        Clock::system(),
    )
    .await
    .context("cannot open the compact store")?;
    let started = Instant::now();
    let mut statements = 0;
    for batch in &batches {
        statements += store
            .record_batch(batch, &[])
            .await
            .context("record_batch")?
            .statements;
    }
    let after_secs = started.elapsed().as_secs_f64();
    store.close().await;
    let after_bytes = vacuumed_size(&after).await?;
    let mut conn = connect(&after).await?;
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM results), \
         (SELECT COUNT(*) FROM rollups WHERE scope = 0 AND period_s = 3600)",
    )
    .fetch_one(&mut conn)
    .await?;
    sqlx::query("DELETE FROM rollups")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let without_rollups = vacuumed_size(&after).await?;
    anyhow::ensure!(
        counts.0 as usize == rows,
        "stored {} of {rows} results",
        counts.0
    );

    let before_file = dir.join("before.db");
    let started = Instant::now();
    before::write(&before_file, &batches).await?;
    let before_secs = started.elapsed().as_secs_f64();
    let before_bytes = vacuumed_size(&before_file).await?;

    let per = |bytes: u64| bytes as f64 / rows as f64;
    println!(
        "before (0001: UUID and id text, rowid + PK index + (service_id, time_ms) index): {:.1} bytes/result, {:.0} rows/s",
        per(before_bytes),
        rows as f64 / before_secs
    );
    println!(
        "after  (0004: integer keys, WITHOUT ROWID, no index, phases and cert expiry, latest per agent, rollups): {:.1} bytes/result ({:.1} without the rollups), {:.0} rows/s, {:.1} statements/batch",
        per(after_bytes),
        per(without_rollups),
        rows as f64 / after_secs,
        statements as f64 / batches.len() as f64
    );
    println!(
        "rollups: {:.0} bytes per service-hour ({} service-hours; hourly and daily rows, per service and per agent)",
        after_bytes.saturating_sub(without_rollups) as f64 / counts.1.max(1) as f64,
        counts.1
    );
    println!(
        "before / after: {:.2}",
        per(before_bytes) / per(after_bytes)
    );
    Ok(())
}

async fn connect(file: &Path) -> anyhow::Result<SqliteConnection> {
    SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .with_context(|| format!("cannot open {}", file.display()))
}

/// The file's size after a VACUUM, out of WAL mode.
async fn vacuumed_size(file: &Path) -> anyhow::Result<u64> {
    let mut conn = connect(file).await?;
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut conn)
        .await?;
    sqlx::query("VACUUM").execute(&mut conn).await?;
    conn.close().await?;
    Ok(std::fs::metadata(file)?.len())
}
