//! The pruner on a held paused clock over a real SQLite file: what goes,
//! what stays, how big each transaction is, and live settings.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::domain::{Event, ProbeOutcome, ProbeResult};
use crate::store::testdb::store_tests;
use crate::store::{DeliveryFilter, EventSettings, ResultRecord};
use crate::testing::{BASE_MS, TestClock, soon};

store_tests!(
    #[tokio::test(start_paused = true)]
    a_pass_deletes_rows_older_than_each_retention_and_keeps_newer_ones,
    an_event_with_a_pending_delivery_stays_until_the_delivery_ends,
    every_transaction_stays_within_the_batch_size,
    new_settings_take_effect_at_the_next_pass,
    pruning_a_service_never_touches_another_services_rows,
    a_pass_folds_the_daily_rollups_of_the_days_that_ended,
);

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// A rollup key no test result has: the results' own rollups (written by
/// `record_batch`) are recent and stay.
const NO_RESULTS: i64 = 999;

fn defaults() -> RetentionSettings {
    RetentionSettings {
        results: 7 * DAY,
        events: 90 * DAY,
        rollups: 400 * DAY,
    }
}

/// A pruner over a temp store whose events go to one webhook, `ops`.
struct Fixture {
    time: TestClock,
    store: Store,
    metrics: Arc<Metrics>,
    handle: RetentionHandle,
    passes: watch::Receiver<PassReport>,
    cancel: CancellationToken,
    _dir: crate::store::testdb::TestDb,
}

impl Fixture {
    /// The first pass runs `first_pass` after now.
    async fn new(settings: RetentionSettings, batch_rows: u64, first_pass: Duration) -> Fixture {
        let time = TestClock::hold(BASE_MS);
        let mut all = crate::agents::testing::settings(true);
        all.events = EventSettings::new(vec![("ops".to_owned(), vec![])], "http://picket".into());
        let (dir, store) = crate::agents::testing::store_on(&all, time.clock()).await;
        let metrics = Arc::new(Metrics::new());
        let cancel = CancellationToken::new();
        let pacing = Pacing {
            batch_rows,
            pause: Duration::ZERO,
            first_pass,
            interval: Duration::from_secs(600),
        };
        let handle = RetentionHandle::spawn_paced(
            store.clone(),
            settings,
            pacing,
            metrics.clone(),
            time.clock(),
            cancel.clone(),
            &TaskTracker::new(),
        );
        let passes = handle.passes();
        Fixture {
            time,
            store,
            metrics,
            handle,
            passes,
            cancel,
            _dir: dir,
        }
    }

    /// Moves the clock by `by`, which must reach the next pass, and returns
    /// that pass's report.
    async fn pass_after(&mut self, by: Duration) -> PassReport {
        self.time.advance(by).await;
        soon("a retention pass", self.passes.changed())
            .await
            .expect("the pruner runs");
        let report = self.passes.borrow_and_update().clone();
        assert!(report.complete, "{report:?}");
        report
    }

    /// `n` results of `service`, one a minute from `from_ms`.
    async fn results(&self, service: &str, from_ms: i64, n: u64) {
        let batch: Vec<_> = (0..n)
            .map(|i| ResultRecord {
                agent: "a1".into(),
                result: ProbeResult {
                    seq: i + 1,
                    service: service.into(),
                    round_id: 0,
                    started_at_ms: from_ms + i as i64 * 60_000,
                    outcome: ProbeOutcome {
                        ok: true,
                        status_code: Some(200),
                        error_kind: None,
                        error: None,
                        duration_us: 1000,
                        phases: Default::default(),
                        cert_not_after_ms: None,
                    },
                },
            })
            .collect();
        self.store.record_results(&batch).await.expect("results");
    }

    async fn count(&self, table: &'static str) -> i64 {
        self.store.count_rows(table).await.expect("count")
    }

    async fn results_of(&self, service: &str) -> i64 {
        self.store
            .count_results(&service.into())
            .await
            .expect("count")
    }

    /// An event now (with its pending `ops` delivery); its seq.
    async fn event(&self) -> i64 {
        let e = Event::WebhookDisabled {
            webhook: "elsewhere".into(),
            reason: "test".into(),
        };
        self.store.record_event(&e).await.expect("event")
    }

    /// The `ops` delivery of event `seq`: (outbox id, state), if any.
    async fn delivery(&self, seq: i64) -> Option<(i64, String)> {
        let rows = self
            .store
            .list_deliveries(&DeliveryFilter::default(), 1000)
            .await
            .expect("deliveries");
        rows.into_iter()
            .find(|d| d.event_seq == seq)
            .map(|d| (d.id, d.state))
    }

    async fn deliver(&self, seq: i64) {
        let (id, _) = self.delivery(seq).await.expect("a delivery");
        self.store
            .delivery_succeeded(id, self.time.now_ms())
            .await
            .expect("delivered");
    }

    async fn give_up(&self, seq: i64) {
        let (id, _) = self.delivery(seq).await.expect("a delivery");
        self.store
            .delivery_failed(id, self.time.now_ms(), "HTTP 500", None)
            .await
            .expect("failed");
    }

    async fn event_seqs(&self) -> Vec<i64> {
        let rows = self.store.events_after(0, 1000).await.expect("events");
        rows.iter().map(|e| e.seq).collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn a_pass_deletes_rows_older_than_each_retention_and_keeps_newer_ones() {
    // The first pass runs at BASE + 100 days: the events written now are
    // 100 days old then, those written at +91 days only 9.
    let mut f = Fixture::new(defaults(), 1000, 100 * DAY).await;
    let (delivered, failed, pending) = (f.event().await, f.event().await, f.event().await);
    f.deliver(delivered).await;
    f.give_up(failed).await;
    f.time.advance(91 * DAY).await;
    let fresh = f.event().await;
    f.deliver(fresh).await;
    let pass_ms = BASE_MS + 100 * DAY_MS;
    f.results("shop", pass_ms - 8 * DAY_MS, 30).await;
    f.results("shop", pass_ms - 6 * DAY_MS, 20).await;
    f.results("blog", pass_ms - 7 * DAY_MS - HOUR_MS, 10).await;
    f.results("blog", pass_ms - 7 * DAY_MS + 60_000, 5).await;
    // An agent that stopped probing `gone` 8 days ago: its latest result
    // goes with its raw results; shop's and blog's stay.
    f.results("gone", pass_ms - 8 * DAY_MS, 3).await;
    assert_eq!(f.count("latest_results").await, 3);
    let cutoff = pass_ms - 400 * DAY_MS;
    let rollups = [
        (3600, cutoff - 2 * HOUR_MS, false),
        (3600, cutoff - HOUR_MS, false), // ended exactly at the cutoff
        (3600, cutoff - HOUR_MS / 2, true),
        (86400, cutoff - DAY_MS, false),
        (86400, cutoff - DAY_MS + HOUR_MS, true),
    ];
    for (period, start, _) in rollups {
        for scope in [0, 1] {
            f.store
                .insert_rollup(scope, NO_RESULTS, period, start)
                .await
                .expect("rollup");
        }
    }

    let report = f.pass_after(9 * DAY).await;

    assert_eq!(f.results_of("shop").await, 20, "shop keeps its last 6 days");
    assert_eq!(
        f.results_of("blog").await,
        5,
        "blog keeps what is under 7 days old"
    );
    for scope in [0, 1] {
        for period in [3600, 86400] {
            let kept: Vec<i64> = rollups
                .iter()
                .filter(|(p, _, keep)| *p == period && *keep)
                .map(|(_, start, _)| *start)
                .collect();
            let left = f
                .store
                .rollup_starts(scope, NO_RESULTS, period)
                .await
                .expect("rollups");
            assert_eq!(left, kept, "scope {scope}, period {period}");
        }
    }
    assert_eq!(
        f.count("latest_results").await,
        2,
        "gone's latest result goes"
    );
    assert_eq!(f.results_of("gone").await, 0);
    assert_eq!(f.event_seqs().await, vec![pending, fresh]);
    assert_eq!(
        f.delivery(delivered).await,
        None,
        "a delivered row goes with its event"
    );
    assert_eq!(
        f.delivery(failed).await,
        None,
        "a failed row goes with its event"
    );
    assert_eq!(
        f.delivery(pending).await.map(|d| d.1),
        Some("pending".to_owned())
    );
    assert_eq!(
        f.delivery(fresh).await.map(|d| d.1),
        Some("delivered".to_owned())
    );
    assert_eq!(
        (
            report.number,
            report.results,
            report.latest_results,
            report.rollups,
            report.events,
            report.webhook_outbox
        ),
        (1, 43, 1, 6, 2, 2),
        "{report:?}"
    );
    let text = f.metrics.render();
    for line in [
        "picket_retention_deleted_rows_total{table=\"results\"} 43".to_owned(),
        "picket_retention_deleted_rows_total{table=\"latest_results\"} 1".to_owned(),
        "picket_retention_deleted_rows_total{table=\"rollups\"} 6".to_owned(),
        "picket_retention_deleted_rows_total{table=\"events\"} 2".to_owned(),
        "picket_retention_deleted_rows_total{table=\"webhook_outbox\"} 2".to_owned(),
        format!(
            "picket_retention_last_run_timestamp_seconds {}",
            pass_ms / 1000
        ),
    ] {
        assert!(text.contains(&line), "{line} in:\n{text}");
    }
}

async fn an_event_with_a_pending_delivery_stays_until_the_delivery_ends() {
    let mut f = Fixture::new(defaults(), 1000, 91 * DAY).await;
    let (retried, given_up) = (f.event().await, f.event().await);

    let first = f.pass_after(91 * DAY).await;
    assert_eq!(first.events, 0, "{first:?}");
    assert_eq!(f.event_seqs().await, vec![retried, given_up]);
    assert_eq!(f.count("webhook_outbox").await, 2);

    f.deliver(retried).await;
    f.give_up(given_up).await;
    let second = f.pass_after(Duration::from_secs(600)).await;
    assert_eq!((second.events, second.webhook_outbox), (2, 2), "{second:?}");
    assert_eq!(f.count("events").await, 0);
    assert_eq!(f.count("webhook_outbox").await, 0);
}

async fn every_transaction_stays_within_the_batch_size() {
    const BATCH: u64 = 7;
    let mut f = Fixture::new(defaults(), BATCH, 100 * DAY).await;
    for _ in 0..20 {
        let seq = f.event().await;
        f.deliver(seq).await;
    }
    let pass_ms = BASE_MS + 100 * DAY_MS;
    f.results("shop", pass_ms - 30 * DAY_MS, 30).await;
    f.results("blog", pass_ms - 30 * DAY_MS, 15).await;
    for h in 0..20 {
        f.store
            .insert_rollup(0, NO_RESULTS, 3600, pass_ms - 500 * DAY_MS + h * HOUR_MS)
            .await
            .expect("rollup");
    }
    // One transaction on its own: exactly the limit, of the oldest rows.
    let step = f
        .store
        .prune_results(PruneCursor::START, pass_ms - 29 * DAY_MS, BATCH)
        .await
        .expect("prune");
    assert_eq!(step.rows, BATCH);
    assert_eq!(f.results_of("shop").await, 30 - BATCH as i64);

    let report = f.pass_after(100 * DAY).await;
    assert!(
        report.largest_transaction <= BATCH,
        "largest transaction {} rows: {report:?}",
        report.largest_transaction
    );
    assert_eq!(
        (
            report.results,
            report.rollups,
            report.events,
            report.webhook_outbox
        ),
        (45 - BATCH, 20, 20, 20)
    );
    // 38 results, 20 rollups, and 20 events with one delivery each (3
    // events, 6 rows, a transaction), plus the last empty steps.
    assert!(report.transactions >= 6 + 3 + 7, "{report:?}");
    for table in ["results", "events", "webhook_outbox"] {
        assert_eq!(f.count(table).await, 0, "{table}");
    }
    let left = f.store.rollup_starts(0, NO_RESULTS, 3600).await;
    assert_eq!(left.expect("rollups"), Vec::<i64>::new());
}

async fn new_settings_take_effect_at_the_next_pass() {
    let mut f = Fixture::new(defaults(), 1000, Duration::from_secs(60)).await;
    f.results("shop", BASE_MS - 3 * DAY_MS, 10).await;

    let first = f.pass_after(Duration::from_secs(60)).await;
    assert_eq!((first.number, first.results), (1, 0), "3 days < 7 days");
    assert_eq!(f.results_of("shop").await, 10);

    f.handle.reconfigure(RetentionSettings {
        results: 2 * DAY,
        ..defaults()
    });
    f.time.advance(Duration::from_secs(1)).await;
    assert_eq!(
        f.results_of("shop").await,
        10,
        "nothing runs before the next pass"
    );
    let second = f.pass_after(Duration::from_secs(600)).await;
    assert_eq!((second.number, second.results), (2, 10), "{second:?}");
    assert_eq!(f.results_of("shop").await, 0);
}

async fn pruning_a_service_never_touches_another_services_rows() {
    // shop's old rows take several transactions, so the walk resumes
    // inside a service and then moves past blog, which keeps all its rows.
    let mut f = Fixture::new(
        RetentionSettings {
            results: HOUR,
            ..defaults()
        },
        4,
        Duration::from_secs(60),
    )
    .await;
    let pass_ms = BASE_MS + 60_000;
    f.results("shop", pass_ms - 2 * HOUR_MS, 11).await;
    f.results("blog", pass_ms - HOUR_MS + 60_000, 9).await;
    f.results("api", pass_ms - 2 * HOUR_MS, 3).await;
    f.results("shop", pass_ms - 10 * 60_000, 2).await;

    let report = f.pass_after(Duration::from_secs(60)).await;
    assert_eq!(report.results, 14, "{report:?}");
    assert_eq!(f.results_of("shop").await, 2);
    assert_eq!(f.results_of("blog").await, 9, "blog's rows are all newer");
    assert_eq!(f.results_of("api").await, 0);
}

/// Folding started at BASE: the pass two days later writes the daily rows
/// of BASE's day from its hours (the service's and the agent's), and
/// those of the day that has not ended stay unwritten.
async fn a_pass_folds_the_daily_rollups_of_the_days_that_ended() {
    use crate::domain::rollup::{Period, Scope};
    let mut f = Fixture::new(defaults(), 1000, 2 * DAY).await;
    f.store.start_folding(BASE_MS).await.expect("start");
    let day = Period::Day.start_of(BASE_MS);
    f.results("shop", BASE_MS, 30).await;
    f.results("shop", day + 2 * DAY_MS, 5).await;
    assert_eq!(
        f.store.rollup_starts(0, 1, 86_400).await.expect("rows"),
        Vec::<i64>::new()
    );

    let report = f.pass_after(2 * DAY).await;
    assert_eq!(report.rollups_folded, 2, "{report:?}");
    assert_eq!(
        f.store.rollup_starts(0, 1, 86_400).await.expect("rows"),
        vec![day]
    );
    assert_eq!(
        f.store.rollup_starts(1, 1, 86_400).await.expect("rows"),
        vec![day]
    );
    let days = f
        .store
        .rollups(Scope::Service, "shop", Period::Day, day, day + 3 * DAY_MS)
        .await
        .expect("days");
    let probes: Vec<(i64, u64)> = days.iter().map(|(d, s)| (*d, s.probes)).collect();
    assert_eq!(probes, vec![(day, 30), (day + 2 * DAY_MS, 5)]);
}
