//! `picket-prune-bench`: what retention pruning costs ingest.
//!
//! Creates an SQLite store (the collector's `Store`, migrated), fills it
//! with `--old-rows` results older than the retention (20 days old) and a
//! day of fresh ones (one per service a minute), then times
//! `Store::record_batch` for ingest-like batches (`--batch` results of
//! different services, one every `--interval-ms`): first with nothing else
//! running, then while the collector's pruner (`RetentionHandle`, with
//! its pacing or the one given here) deletes every old row. It prints the
//! p50 / p99 / max batch latency of both phases, the p99 ratio, and the
//! rows the pruner deleted per second.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use picket_collector::config::settings::RetentionSettings;
use picket_collector::domain::{ProbeOutcome, ProbeResult};
use picket_collector::metrics::Metrics;
use picket_collector::retention::{Pacing, RetentionHandle};
use picket_collector::store::{EventSettings, ResultRecord, Store};
use picket_collector::time::Clock;
use sqlx::any::AnyPoolOptions;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Ingest batch latency without and during a prune of old results.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The SQLite file to create (must not exist).
    #[arg(long)]
    db: PathBuf,
    /// Results older than the retention, all deleted by the prune.
    #[arg(long, default_value_t = 10_000_000)]
    old_rows: u64,
    /// Services (the old and fresh results are spread over them).
    #[arg(long, default_value_t = 1000)]
    services: u64,
    /// Results per ingest batch (each of a different service).
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Time from the start of one ingest batch to the next (0: back to back).
    #[arg(long, default_value_t = 50)]
    interval_ms: u64,
    /// Batches timed without pruning.
    #[arg(long, default_value_t = 600)]
    baseline_batches: usize,
    /// Rows per pruning transaction (default: the collector's).
    #[arg(long)]
    prune_batch_rows: Option<u64>,
    /// Pause after each pruning transaction, in ms (default: the collector's).
    #[arg(long)]
    prune_pause_ms: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.batch > 0 && args.services > 0 && args.baseline_batches > 0,
        "zero load"
    );
    anyhow::ensure!(!args.db.exists(), "{} exists already", args.db.display());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let url = format!("sqlite://{}", args.db.display());
    let clock = Clock::system();
    let store = Store::open(&url, EventSettings::default(), clock.clone())
        .await
        .context("cannot open the store")?;
    let now = clock.now_ms();
    let started = Instant::now();
    fill(&url, &args, now)
        .await
        .context("cannot fill the store")?;
    println!(
        "filled {} old results (20 days old) and {} fresh ones over {} services in {:.1}s",
        args.old_rows,
        args.services * 1440,
        args.services,
        started.elapsed().as_secs_f64()
    );

    let mut ingest = Ingest::new(&args, now);
    // Warm the caches and the connection first.
    ingest.run(&store, Some(20), None).await?;
    let baseline = ingest
        .run(&store, Some(args.baseline_batches), None)
        .await?;

    let mut pacing = Pacing {
        first_pass: Duration::ZERO,
        interval: Duration::from_secs(24 * 3600),
        ..Pacing::default()
    };
    if let Some(rows) = args.prune_batch_rows {
        pacing.batch_rows = rows;
    }
    if let Some(ms) = args.prune_pause_ms {
        pacing.pause = Duration::from_millis(ms);
    }
    let settings = RetentionSettings {
        results: Duration::from_secs(7 * 24 * 3600),
        events: Duration::from_secs(90 * 24 * 3600),
        rollups: Duration::from_secs(400 * 24 * 3600),
    };
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let pruning = Instant::now();
    let pruner = RetentionHandle::spawn_paced(
        store.clone(),
        settings,
        pacing,
        Arc::new(Metrics::new()),
        clock,
        cancel.clone(),
        &tasks,
    );
    let mut passes = pruner.passes();
    let during = ingest.run(&store, None, Some(&mut passes)).await?;
    let prune_s = pruning.elapsed().as_secs_f64();
    let report = passes.borrow().clone();
    cancel.cancel();
    tasks.close();
    tasks.wait().await;
    store.close().await;

    println!(
        "ingest: batches of {} results, one every {} ms; pruner: {} rows a transaction, {:?} pause",
        args.batch, args.interval_ms, pacing.batch_rows, pacing.pause
    );
    anyhow::ensure!(!during.is_empty(), "the prune ended before the first batch");
    let (b, d) = (Summary::of(baseline), Summary::of(during));
    println!("without pruning: {b}");
    println!("while pruning:   {d}");
    println!(
        "pruned {} results in {prune_s:.1}s ({:.0} rows/s, {} transactions, at most {} rows each)",
        report.results,
        report.results as f64 / prune_s,
        report.transactions,
        report.largest_transaction
    );
    println!(
        "p99 while pruning / p99 without: {:.2} (target <= 2)",
        d.p99_ms / b.p99_ms
    );
    anyhow::ensure!(
        report.complete && report.results == args.old_rows,
        "the prune deleted {} of {} old results",
        report.results,
        args.old_rows
    );
    Ok(())
}

/// Writes the old and fresh results in primary-key order, a million rows
/// a statement (a bench tool's shortcut: the collector writes only
/// through its store).
async fn fill(url: &str, args: &Args, now: i64) -> anyhow::Result<()> {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(&pool)
        .await?;
    let keys = format!(
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {s}) \
         INSERT INTO service_keys (key, id) SELECT i, 'svc-' || i FROM c",
        s = args.services
    );
    sqlx::query(sqlx::AssertSqlSafe(keys))
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO agent_keys (key, id) VALUES (1, 'bench-1'), (2, 'bench-2'), (3, 'bench-3')",
    )
    .execute(&pool)
    .await?;
    // Old: each service's rows 15 s apart from 20 days ago, agents in turn.
    let per_service = args.old_rows.div_ceil(args.services);
    let old_start = now - 20 * DAY_MS;
    let chunk = 1_000_000;
    let mut from = 0;
    while from < args.old_rows {
        let to = (from + chunk).min(args.old_rows);
        let sql = format!(
            "WITH RECURSIVE c(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM c WHERE i < {last}) \
             INSERT INTO results (service, time_ms, agent, round_id, ok, duration_us, status_code) \
             SELECT i / {per_service} + 1, {old_start} + (i % {per_service}) * 15000, i % 3 + 1, 0, 1, \
             20000 + i % 50000, 200 FROM c",
            last = to - 1
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
        from = to;
    }
    // Fresh: the last day, one result a minute per service.
    let sql = format!(
        "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {last}) \
         INSERT INTO results (service, time_ms, agent, round_id, ok, duration_us, status_code) \
         SELECT i / 1440 + 1, {day_ago} + (i % 1440) * 60000, 1, 0, 1, 20000 + i % 50000, 200 FROM c",
        last = args.services * 1440 - 1,
        day_ago = now - DAY_MS,
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// Ingest-like batches: `batch` results of consecutive services, agents in
/// turn, each with a time no earlier result of its service had.
struct Ingest {
    batch: usize,
    services: u64,
    interval: Duration,
    next_service: u64,
    seq: u64,
    time_ms: i64,
}

impl Ingest {
    fn new(args: &Args, now: i64) -> Ingest {
        Ingest {
            batch: args.batch,
            services: args.services,
            interval: Duration::from_millis(args.interval_ms),
            next_service: 0,
            seq: 0,
            time_ms: now,
        }
    }

    fn next_batch(&mut self) -> Vec<ResultRecord> {
        (0..self.batch)
            .map(|_| {
                let service = self.next_service % self.services + 1;
                self.next_service += 1;
                if service == 1 {
                    self.time_ms += 1;
                }
                self.seq += 1;
                ResultRecord {
                    agent: format!("bench-{}", self.seq % 3 + 1).into(),
                    result: ProbeResult {
                        seq: self.seq,
                        service: format!("svc-{service}").into(),
                        round_id: 0,
                        started_at_ms: self.time_ms,
                        outcome: ProbeOutcome {
                            ok: true,
                            status_code: Some(200),
                            error_kind: None,
                            error: None,
                            duration_us: 20_000,
                            phases: Default::default(),
                            cert_not_after_ms: None,
                        },
                    },
                }
            })
            .collect()
    }

    /// Times `count` batches, or (with `until`) batches until it changes.
    async fn run(
        &mut self,
        store: &Store,
        count: Option<usize>,
        mut until: Option<
            &mut tokio::sync::watch::Receiver<picket_collector::retention::PassReport>,
        >,
    ) -> anyhow::Result<Vec<Duration>> {
        let mut latencies = Vec::new();
        let mut tick = tokio::time::interval(self.interval.max(Duration::from_micros(1)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if count.is_some_and(|n| latencies.len() >= n) {
                return Ok(latencies);
            }
            if let Some(rx) = until.as_deref_mut()
                && rx.has_changed().unwrap_or(true)
            {
                return Ok(latencies);
            }
            if !self.interval.is_zero() {
                tick.tick().await;
            }
            let batch = self.next_batch();
            let t = Instant::now();
            store.record_batch(&batch, &[]).await?;
            latencies.push(t.elapsed());
        }
    }
}

/// Latency percentiles of one phase.
struct Summary {
    n: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Summary {
    fn of(mut v: Vec<Duration>) -> Summary {
        v.sort();
        let at = |q: f64| {
            let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
            v[i].as_secs_f64() * 1000.0
        };
        Summary {
            n: v.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} batches, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.n, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}
