//! The pruner: deletes raw results, rollups and events (with their
//! finished webhook deliveries) once they are older than `[retention]`
//! says, in the background, without stalling ingest; and folds the daily
//! rollups of the days that ended from their hours
//! (`store/rollups/fold.rs`), in the same short transactions.
//!
//! The actor owns its schedule and nothing else: a pass
//! [`Pacing::first_pass`] after start, then one every
//! [`Pacing::interval`] (10 minutes) after the previous one ended. A pass
//! reads the wall time from the [`Clock`] and the settings current at its
//! start ([`RetentionHandle::reconfigure`] replaces them through a
//! `watch`; a pass under way keeps the ones it started with), then calls
//! the store's pruning functions (`store/retention.rs`) until each table
//! is done: each call is one transaction of at most
//! [`Pacing::batch_rows`] rows on the write connection ingest shares, and
//! the pruner yields (and pauses [`Pacing::pause`]) between them, so an
//! ingest batch waits for at most one short transaction. It counts what
//! it deleted in `picket_retention_deleted_rows_total{table}`, stamps
//! `picket_retention_last_run_timestamp_seconds` after each complete pass,
//! logs one line per pass and publishes a [`PassReport`]. A store error
//! ends the pass (logged); the next one runs on schedule. It ends when the
//! token fires (not when its handles are gone: it then keeps its last
//! settings).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::settings::RetentionSettings;
use crate::metrics::Metrics;
use crate::store::{PruneCursor, Store, StoreError};
use crate::time::Clock;

/// How the pruner spreads its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Rows one transaction deletes at most.
    pub batch_rows: u64,
    /// Pause after each transaction (besides a yield), leaving the write
    /// connection to ingest.
    pub pause: Duration,
    /// The first pass runs this long after start.
    pub first_pass: Duration,
    /// Time from the end of one pass to the start of the next.
    pub interval: Duration,
}

impl Default for Pacing {
    /// 2000 rows a transaction (about 15 ms on SQLite) and a 40 ms pause,
    /// so the pruner holds the write connection about a quarter of the
    /// time and deletes about 35,000 rows/s. With a 5 ms pause, the ingest
    /// batch p99 during a 10-million-row prune was 2.4× its value without
    /// pruning. With 40 ms it stays within 2× (bench/prune-ingest.sh,
    /// README "Figures").
    fn default() -> Self {
        Pacing {
            batch_rows: 2000,
            pause: Duration::from_millis(40),
            first_pass: Duration::from_secs(60),
            interval: Duration::from_secs(600),
        }
    }
}

/// What one pass deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// 1 for the first pass since start.
    pub number: u64,
    pub results: u64,
    /// Latest results of agents that stopped probing a service.
    pub latest_results: u64,
    pub rollups: u64,
    /// Daily rollup rows folded from their hours (days that ended).
    pub rollups_folded: u64,
    pub events: u64,
    /// Delivered and failed webhook deliveries of the deleted events.
    pub webhook_outbox: u64,
    /// Transactions the pass ran.
    pub transactions: u64,
    /// The most rows one of them deleted.
    pub largest_transaction: u64,
    /// Whether it ran to the end (not cut short by an error or shutdown).
    pub complete: bool,
}

impl PassReport {
    fn transaction(&mut self, rows: u64) {
        self.transactions += 1;
        self.largest_transaction = self.largest_transaction.max(rows);
    }
}

/// Handle to the pruner; cheap to clone.
#[derive(Clone)]
pub struct RetentionHandle {
    /// The settings the next pass reads.
    settings: Arc<watch::Sender<RetentionSettings>>,
    /// The last pass's report.
    passes: watch::Receiver<PassReport>,
}

impl RetentionHandle {
    /// Starts the pruner with the default [`Pacing`].
    pub fn spawn(
        store: Store,
        settings: RetentionSettings,
        metrics: Arc<Metrics>,
        clock: Clock,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> RetentionHandle {
        Self::spawn_paced(
            store,
            settings,
            Pacing::default(),
            metrics,
            clock,
            cancel,
            tasks,
        )
    }

    /// [`RetentionHandle::spawn`] with its own pacing (tests, benchmarks).
    pub fn spawn_paced(
        store: Store,
        settings: RetentionSettings,
        pacing: Pacing,
        metrics: Arc<Metrics>,
        clock: Clock,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> RetentionHandle {
        let (settings_tx, settings_rx) = watch::channel(settings);
        let (report_tx, passes) = watch::channel(PassReport::default());
        let pruner = Pruner {
            store,
            settings: settings_rx,
            pacing,
            metrics,
            clock,
            cancel,
            reports: report_tx,
        };
        tasks.spawn(pruner.run());
        RetentionHandle {
            settings: Arc::new(settings_tx),
            passes,
        }
    }

    /// New retention periods, read at the start of the next pass.
    pub fn reconfigure(&self, settings: RetentionSettings) {
        self.settings.send_replace(settings);
    }

    /// The last pass's report; changes after every pass.
    pub fn passes(&self) -> watch::Receiver<PassReport> {
        self.passes.clone()
    }
}

/// The tables pruned group by group.
#[derive(Debug, Clone, Copy)]
enum Walked {
    Results,
    Latest,
    Rollups,
}

impl Walked {
    fn name(self) -> &'static str {
        match self {
            Walked::Results => "results",
            Walked::Latest => "latest_results",
            Walked::Rollups => "rollups",
        }
    }
}

/// Why a pass stopped before the end.
enum Stop {
    Cancelled,
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

struct Pruner {
    store: Store,
    /// From the handles: the periods each pass applies.
    settings: watch::Receiver<RetentionSettings>,
    pacing: Pacing,
    metrics: Arc<Metrics>,
    clock: Clock,
    cancel: CancellationToken,
    /// To the handles: each pass's report.
    reports: watch::Sender<PassReport>,
}

impl Pruner {
    async fn run(mut self) {
        let mut next = Instant::now() + self.pacing.first_pass;
        let mut number = 0;
        // Once every handle is gone, the last settings stay.
        let mut handles = true;
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return,
                changed = self.settings.changed(), if handles => {
                    handles = changed.is_ok();
                    continue;
                }
                () = tokio::time::sleep_until(next) => {}
            }
            number += 1;
            let settings = *self.settings.borrow_and_update();
            let started = std::time::Instant::now();
            let mut report = PassReport {
                number,
                ..PassReport::default()
            };
            match self.pass(settings, &mut report).await {
                Ok(()) => {
                    report.complete = true;
                    self.metrics
                        .retention_last_run
                        .set(self.clock.now_ms().div_euclid(1000));
                }
                Err(Stop::Cancelled) => return,
                Err(Stop::Store(e)) => {
                    warn!(error = %e, "retention pass failed; the next one runs on schedule")
                }
            }
            info!(
                results = report.results,
                latest_results = report.latest_results,
                rollups = report.rollups,
                rollups_folded = report.rollups_folded,
                events = report.events,
                webhook_outbox = report.webhook_outbox,
                transactions = report.transactions,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "retention pass"
            );
            self.reports.send_replace(report);
            next = Instant::now() + self.pacing.interval;
        }
    }

    /// Prunes each table in turn, one short transaction at a time.
    async fn pass(&self, s: RetentionSettings, report: &mut PassReport) -> Result<(), Stop> {
        let now = self.clock.now_ms();
        let before = |keep: Duration| {
            now.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX))
        };
        report.results = self
            .walk(Walked::Results, before(s.results), report)
            .await?;
        report.latest_results = self.walk(Walked::Latest, before(s.results), report).await?;
        report.rollups = self
            .walk(Walked::Rollups, before(s.rollups), report)
            .await?;
        report.rollups_folded = self.fold(now, report).await?;

        let cutoff = before(s.events);
        let mut after = 0;
        loop {
            let step = self
                .store
                .prune_events(after, cutoff, self.pacing.batch_rows)
                .await?;
            report.transaction(step.events + step.outbox);
            report.events += step.events;
            report.webhook_outbox += step.outbox;
            self.metrics.retention_deleted("events", step.events);
            self.metrics
                .retention_deleted("webhook_outbox", step.outbox);
            if step.done {
                return Ok(());
            }
            after = step.last_seq;
            self.between_transactions().await?;
        }
    }

    /// Deletes `table`'s rows older than `cutoff`, group after group;
    /// returns how many.
    async fn walk(&self, table: Walked, cutoff: i64, report: &mut PassReport) -> Result<u64, Stop> {
        let batch = self.pacing.batch_rows;
        let mut from = PruneCursor::START;
        let mut total = 0;
        loop {
            let step = match table {
                Walked::Results => self.store.prune_results(from, cutoff, batch).await?,
                Walked::Latest => self.store.prune_latest(from, cutoff, batch).await?,
                Walked::Rollups => self.store.prune_rollups(from, cutoff, batch).await?,
            };
            report.transaction(step.rows);
            self.metrics.retention_deleted(table.name(), step.rows);
            total += step.rows;
            let Some(next) = step.next else {
                return Ok(total);
            };
            from = next;
            self.between_transactions().await?;
        }
    }

    /// Folds the daily rollups of the days that ended (a few hundred keys
    /// a transaction); returns the daily rows written.
    async fn fold(&self, now: i64, report: &mut PassReport) -> Result<u64, Stop> {
        // A key's day is its hourly rows read back (up to 24) and one
        // row written.
        let keys = (self.pacing.batch_rows / 8).max(1) as usize;
        let mut total = 0;
        loop {
            let step = self.store.fold_rollups(now, keys).await?;
            if step.rows > 0 || !step.done {
                report.transaction(step.rows);
            }
            total += step.rows;
            if step.done {
                return Ok(total);
            }
            self.between_transactions().await?;
        }
    }

    /// Leaves the write connection to whoever waits for it.
    async fn between_transactions(&self) -> Result<(), Stop> {
        tokio::task::yield_now().await;
        if self.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        if !self.pacing.pause.is_zero() {
            tokio::select! {
                () = self.cancel.cancelled() => return Err(Stop::Cancelled),
                () = tokio::time::sleep(self.pacing.pause) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
