//! Rollups against a real SQLite file: equal to a brute-force computation
//! over the same raw results whatever the batching and the replays, daily
//! rows equal to the merge of their hours, and the history windows.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::domain::rollup::{bucket_of, rank};
use crate::domain::{ErrorKind, ProbeOutcome, ProbeResult};
use crate::store::testdb::{self, TestDb, store_tests};
use crate::store::{Backend, EventSettings, ResultRecord};

store_tests!(
    a_replayed_result_is_reported_and_not_counted_twice,
    a_result_repeated_within_a_batch_is_stored_and_counted_once,
    known_ids_cost_no_key_statements_after_the_first_commit,
    history_gives_uptime_windows_and_ninety_daily_bars,
    history_is_the_same_before_during_and_after_folding,
    ingest_writes_a_daily_row_only_once_its_day_is_folded,
);

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// 2023-11-14T00:00:00Z.
const BASE: i64 = 1_699_920_000_000;

async fn open() -> (TestDb, Store) {
    testdb::store(EventSettings::default()).await
}

fn record(service: u8, agent: u8, time_ms: i64, round: u64, ok: bool, us: u64) -> ResultRecord {
    ResultRecord {
        agent: format!("a{agent}").into(),
        result: ProbeResult {
            seq: time_ms as u64,
            service: format!("s{service}").into(),
            round_id: round,
            started_at_ms: time_ms,
            outcome: ProbeOutcome {
                ok,
                status_code: Some(if ok { 200 } else { 503 }),
                error_kind: (!ok).then_some(ErrorKind::HttpStatus),
                error: (!ok).then(|| "HTTP 503".to_owned()),
                duration_us: us,
                phases: Default::default(),
                cert_not_after_ms: None,
            },
        },
    }
}

/// Brute force: every distinct result (the first of each key), summed per
/// (scope, id, period, start), keeping the raw successful latencies.
#[derive(Debug, Default)]
struct Raw {
    probes: u64,
    failures: u64,
    latencies: Vec<u64>,
}

fn brute(results: &[ResultRecord]) -> BTreeMap<(Scope, String, Period, i64), Raw> {
    let mut seen = std::collections::HashSet::new();
    let mut out: BTreeMap<_, Raw> = BTreeMap::new();
    for r in results {
        let p = &r.result;
        if !seen.insert((
            p.service.clone(),
            p.started_at_ms,
            r.agent.clone(),
            p.round_id,
        )) {
            continue;
        }
        for (scope, id) in [
            (Scope::Service, p.service.as_str()),
            (Scope::Agent, r.agent.as_str()),
        ] {
            for period in Period::ALL {
                let raw = out
                    .entry((
                        scope,
                        id.to_owned(),
                        period,
                        period.start_of(p.started_at_ms),
                    ))
                    .or_default();
                raw.probes += 1;
                if p.outcome.ok {
                    raw.latencies.push(p.outcome.duration_us);
                } else {
                    raw.failures += 1;
                }
            }
        }
    }
    out
}

fn check(raw: &mut Raw, got: &Summary) -> Result<(), TestCaseError> {
    raw.latencies.sort_unstable();
    let l = &got.latency;
    prop_assert_eq!((got.probes, got.failures), (raw.probes, raw.failures));
    prop_assert_eq!(l.count, raw.latencies.len() as u64);
    prop_assert_eq!(l.sum_us, raw.latencies.iter().sum::<u64>());
    prop_assert_eq!(l.min_us, raw.latencies.first().copied());
    prop_assert_eq!(l.max_us, raw.latencies.last().copied());
    for q in [0.5, 0.95, 0.99] {
        let want = (!raw.latencies.is_empty())
            .then(|| bucket_of(raw.latencies[rank(q, raw.latencies.len() as u64) as usize - 1]));
        prop_assert_eq!(l.quantile_us(q).map(bucket_of), want, "q {}", q);
    }
    Ok(())
}

/// A generated result: service, agent, minute (over 3 days), round, ok,
/// latency.
fn arb_result() -> impl Strategy<Value = ResultRecord> {
    (
        0u8..3,
        0u8..2,
        0i64..3 * 24 * 60,
        0u64..2,
        prop::bool::weighted(0.8),
        1u64..3_000_000,
    )
        .prop_map(|(s, a, minute, round, ok, us)| {
            record(s, a, BASE + minute * 60_000 + i64::from(a), round, ok, us)
        })
}

/// Random batches (each may carry earlier results again) on `backend`:
/// every distinct result is stored once and the rollups equal a brute
/// force over the raw results.
/// With `folds` (keys a step, steps) after each batch, folding starts
/// before the first one and runs as time goes by (the results come in any
/// order: many are late for their day); at the end every day is folded
/// and checked again.
fn random_batches_roll_up_exactly(
    backend: Backend,
    results: Vec<ResultRecord>,
    cuts: Vec<usize>,
    replays: Vec<(prop::sample::Index, usize)>,
    folds: Option<Vec<(usize, usize)>>,
) -> Result<(), TestCaseError> {
    // Batches of random sizes; each may carry earlier results again.
    let mut batches: Vec<Vec<ResultRecord>> = Vec::new();
    let mut at = 0;
    for (i, cut) in cuts.iter().cycle().enumerate() {
        if at >= results.len() {
            break;
        }
        let end = (at + cut).min(results.len());
        let mut batch = results[at..end].to_vec();
        if let Some((pick, len)) = replays.get(i) {
            let from = pick.index(end);
            batch.extend_from_slice(&results[from..(from + len).min(end)]);
        }
        batches.push(batch);
        at = end;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(testdb::on(backend, async {
        let (_dir, store) = open().await;
        if folds.is_some() {
            store.start_folding(BASE).await.expect("start folding");
        }
        let mut stored = 0;
        for (i, batch) in batches.iter().enumerate() {
            let done = store.record_batch(batch, &[]).await.expect("batch");
            stored += done.stored.iter().filter(|s| **s).count();
            let Some(folds) = &folds else { continue };
            // Time goes from the first day to two days after the last.
            let now = BASE + (i as i64 + 1) * 5 * DAY / batches.len() as i64;
            let (keys, steps) = folds[i % folds.len()];
            for _ in 0..steps {
                store.fold_rollups(now, keys).await.expect("fold");
            }
        }
        let expected = brute(&results);
        let distinct: u64 = expected
            .iter()
            .filter(|((scope, _, period, _), _)| *scope == Scope::Service && *period == Period::Day)
            .map(|(_, raw)| raw.probes)
            .sum();
        prop_assert_eq!(stored as u64, distinct, "each distinct result stored once");
        equal_to_brute_force(&store, brute(&results)).await?;
        if folds.is_some() {
            while !store
                .fold_rollups(BASE + 9 * DAY, 2)
                .await
                .expect("fold")
                .done
            {}
            equal_to_brute_force(&store, expected).await?;
        }
        Ok(())
    }))?;
    Ok(())
}

/// Every rollup of the three services and two agents equals `expected`,
/// and each day the merge of its hours.
async fn equal_to_brute_force(
    store: &Store,
    mut expected: BTreeMap<(Scope, String, Period, i64), Raw>,
) -> Result<(), TestCaseError> {
    {
        let mut found = 0;
        for scope in [Scope::Service, Scope::Agent] {
            let ids: Vec<String> = match scope {
                Scope::Service => (0..3).map(|s| format!("s{s}")).collect(),
                Scope::Agent => (0..2).map(|a| format!("a{a}")).collect(),
            };
            for id in ids {
                let days = store
                    .rollups(scope, &id, Period::Day, i64::MIN, i64::MAX)
                    .await
                    .expect("days");
                for period in Period::ALL {
                    let rows = store
                        .rollups(scope, &id, period, i64::MIN, i64::MAX)
                        .await
                        .expect("rollups");
                    for (start, got) in &rows {
                        let raw = expected.get_mut(&(scope, id.clone(), period, *start));
                        prop_assert!(
                            raw.is_some(),
                            "no raw results for {:?} {} {:?} {}",
                            scope,
                            id,
                            period,
                            start
                        );
                        check(raw.expect("checked"), got)?;
                        found += 1;
                    }
                    if period == Period::Hour {
                        for (day, summary) in &days {
                            let mut merged = Summary::default();
                            rows.iter()
                                .filter(|(h, _)| Period::Day.start_of(*h) == *day)
                                .for_each(|(_, s)| merged.merge(s));
                            prop_assert_eq!(&merged, summary, "day {} of {}", day, id);
                        }
                    }
                }
            }
        }
        prop_assert_eq!(found, expected.len(), "a row for every period with results");
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn rollups_equal_a_brute_force_over_the_raw_results(
        results in prop::collection::vec(arb_result(), 1..300),
        cuts in prop::collection::vec(1usize..60, 1..20),
        replays in prop::collection::vec((any::<prop::sample::Index>(), 1usize..8), 0..30),
    ) {
        random_batches_roll_up_exactly(Backend::Sqlite, results, cuts, replays, None)?;
    }

    #[test]
    fn rollups_equal_a_brute_force_while_days_are_folded(
        results in prop::collection::vec(arb_result(), 1..300),
        cuts in prop::collection::vec(1usize..60, 1..20),
        replays in prop::collection::vec((any::<prop::sample::Index>(), 1usize..8), 0..30),
        folds in prop::collection::vec((1usize..4, 0usize..4), 1..8),
    ) {
        random_batches_roll_up_exactly(Backend::Sqlite, results, cuts, replays, Some(folds))?;
    }
}

proptest! {
    // Fewer cases: each starts a PostgreSQL server of its own.
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn rollups_equal_a_brute_force_over_the_raw_results_on_postgres(
        results in prop::collection::vec(arb_result(), 1..300),
        cuts in prop::collection::vec(1usize..60, 1..20),
        replays in prop::collection::vec((any::<prop::sample::Index>(), 1usize..8), 0..30),
    ) {
        random_batches_roll_up_exactly(Backend::Postgres, results, cuts, replays, None)?;
    }

    #[test]
    fn rollups_equal_a_brute_force_while_days_are_folded_on_postgres(
        results in prop::collection::vec(arb_result(), 1..300),
        cuts in prop::collection::vec(1usize..60, 1..20),
        replays in prop::collection::vec((any::<prop::sample::Index>(), 1usize..8), 0..30),
        folds in prop::collection::vec((1usize..4, 0usize..4), 1..8),
    ) {
        random_batches_roll_up_exactly(Backend::Postgres, results, cuts, replays, Some(folds))?;
    }
}

async fn a_replayed_result_is_reported_and_not_counted_twice() {
    let (_dir, store) = open().await;
    let first = vec![
        record(0, 0, BASE, 0, true, 1000),
        record(0, 0, BASE + 60_000, 0, false, 9),
    ];
    let done = store.record_batch(&first, &[]).await.expect("first");
    assert_eq!(done.stored, vec![true, true]);
    let again = vec![
        first[1].clone(),
        record(0, 0, BASE + 120_000, 0, true, 3000),
        first[0].clone(),
    ];
    let done = store.record_batch(&again, &[]).await.expect("replay");
    assert_eq!(done.stored, vec![false, true, false]);
    let hours = store
        .rollups(Scope::Service, "s0", Period::Hour, BASE, BASE + HOUR)
        .await
        .expect("rollups");
    assert_eq!(hours.len(), 1);
    let s = &hours[0].1;
    assert_eq!((s.probes, s.failures, s.latency.sum_us), (3, 1, 4000));
}

/// The insert learns what it stored from row counts; a repeat within one
/// batch makes them fall short, and the first of the two is the one
/// stored.
async fn a_result_repeated_within_a_batch_is_stored_and_counted_once() {
    let (_dir, store) = open().await;
    let once = record(0, 0, BASE, 0, true, 1000);
    let batch = vec![
        once.clone(),
        record(0, 0, BASE + 60_000, 0, true, 2000),
        once,
    ];
    let done = store.record_batch(&batch, &[]).await.expect("batch");
    assert_eq!(done.stored, vec![true, true, false]);
    let hours = store
        .rollups(Scope::Service, "s0", Period::Hour, BASE, BASE + HOUR)
        .await
        .expect("rollups");
    assert_eq!((hours[0].1.probes, hours[0].1.latency.sum_us), (2, 3000));
}

async fn known_ids_cost_no_key_statements_after_the_first_commit() {
    let (_dir, store) = open().await;
    let batch = |t: i64| {
        vec![
            record(0, 0, t, 0, true, 1000),
            record(1, 0, t, 0, true, 1000),
        ]
    };
    let first = store.record_batch(&batch(BASE), &[]).await.expect("first");
    let second = store
        .record_batch(&batch(BASE + 60_000), &[])
        .await
        .expect("second");
    // Two services and one agent resolved once, then taken from the cache.
    assert_eq!(first.statements - second.statements, 3);
}

async fn history_gives_uptime_windows_and_ninety_daily_bars() {
    let (_dir, store) = open().await;
    history_batch_and_checks(&store, false).await;
}

/// Folding starts 40 days back: every day is read from its hours, then
/// from daily rows as the fold goes (one key a step), with the same
/// figures at each step.
async fn history_is_the_same_before_during_and_after_folding() {
    let (_dir, store) = open().await;
    store.start_folding(BASE).await.expect("start");
    history_batch_and_checks(&store, true).await;
}

async fn history_batch_and_checks(store: &Store, fold: bool) {
    let now = BASE + 40 * DAY + 12 * HOUR + 30 * 60_000;
    let at = |ago: i64| now - ago;
    let batch = vec![
        // The current hour: 2 probes, 1 failure.
        record(0, 0, at(60_000), 0, true, 20_000),
        record(0, 1, at(120_000), 0, false, 0),
        // 3 days ago: 1 success (in 7 d and 30 d, not 24 h).
        record(0, 0, at(3 * DAY), 0, true, 40_000),
        // 10 days ago: 1 failure (in 30 d only).
        record(0, 0, at(10 * DAY), 0, false, 0),
        // 35 days ago: only in the bars.
        record(0, 0, at(35 * DAY), 0, true, 10_000),
        // Another service: never in s0's figures.
        record(1, 0, at(60_000), 0, false, 0),
    ];
    store.record_batch(&batch, &[]).await.expect("batch");
    let first = store.history(Scope::Service, "s0", now).await.expect("h");
    if fold {
        let mut steps = 0;
        loop {
            let step = store.fold_rollups(now, 1).await.expect("fold");
            let h = store.history(Scope::Service, "s0", now).await.expect("h");
            assert_eq!(h, first, "after {steps} fold steps");
            steps += 1;
            if step.done {
                break;
            }
        }
        // 40 days of 2 service keys and 2 agent keys, a key a step; then
        // the step that finds no more and the next day not ended.
        assert_eq!(steps, 40 * 4 + 1);
    }
    let h = store
        .history(Scope::Service, "s0", now)
        .await
        .expect("history");
    assert_eq!((h.last_24h.probes, h.last_24h.uptime()), (2, Some(0.5)));
    assert_eq!((h.last_7d.probes, h.last_7d.uptime()), (3, Some(2.0 / 3.0)));
    assert_eq!((h.last_30d.probes, h.last_30d.uptime()), (4, Some(0.5)));
    assert_eq!(h.last_7d.latency.max_us, Some(40_000));
    assert_eq!(h.daily.len(), 90);
    let today = Period::Day.start_of(now);
    assert_eq!(h.daily[89].0, today);
    assert_eq!(h.daily[0].0, today - 89 * DAY);
    let bar = |days_ago: i64| &h.daily[(89 - days_ago) as usize].1;
    assert_eq!((bar(0).probes, bar(0).failures), (2, 1));
    assert_eq!((bar(35).probes, bar(35).failures), (1, 0));
    assert_eq!(bar(1).uptime(), None, "a day without probes");
    let agent = store.history(Scope::Agent, "a0", now).await.expect("agent");
    assert_eq!(agent.last_24h.probes, 2, "a0's probes of both services");
    let none = store
        .history(Scope::Service, "nope", now)
        .await
        .expect("unknown");
    assert_eq!((none.last_30d.uptime(), none.daily.len()), (None, 90));
}

/// The point of folding: a result of a day not folded touches its hourly
/// rows only; the fold writes the daily row once the day has ended (and
/// its grace), and a late result then merges into it. Before folding
/// starts, ingest merges every daily row as it always did.
async fn ingest_writes_a_daily_row_only_once_its_day_is_folded() {
    let (_dir, store) = open().await;
    let daily_rows = |key: i64| {
        let store = store.clone();
        async move { store.rollup_starts(0, key, 86_400).await.expect("rows") }
    };
    store
        .record_batch(&[record(0, 0, BASE - DAY, 0, true, 1000)], &[])
        .await
        .expect("before folding");
    assert_eq!(daily_rows(1).await, vec![BASE - DAY], "merged as before");

    store.start_folding(BASE).await.expect("start");
    store
        .record_batch(
            &[
                record(0, 0, BASE + HOUR, 0, true, 1000),
                record(0, 0, BASE + 2 * HOUR, 0, false, 0),
            ],
            &[],
        )
        .await
        .expect("today");
    assert_eq!(daily_rows(1).await, vec![BASE - DAY], "no row for today");
    let day = |store: Store| async move {
        let rows = store
            .rollups(Scope::Service, "s0", Period::Day, BASE, BASE + DAY)
            .await
            .expect("day");
        rows.iter()
            .map(|(d, s)| (*d, s.probes, s.failures))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        day(store.clone()).await,
        vec![(BASE, 2, 1)],
        "read from its hours"
    );

    let ended = BASE + DAY + FOLD_GRACE_MS;
    let step = store.fold_rollups(ended - 1, 100).await.expect("early");
    assert_eq!(
        step,
        FoldStep {
            rows: 0,
            done: true
        },
        "within the grace"
    );
    let mut written = 0;
    loop {
        let step = store.fold_rollups(ended, 100).await.expect("fold");
        written += step.rows;
        if step.done {
            break;
        }
    }
    assert_eq!(written, 2, "the day of s0 and of a0");
    assert_eq!(daily_rows(1).await, vec![BASE - DAY, BASE]);
    assert_eq!(
        day(store.clone()).await,
        vec![(BASE, 2, 1)],
        "read from its row"
    );

    store
        .record_batch(&[record(0, 0, BASE + 3 * HOUR, 0, true, 1000)], &[])
        .await
        .expect("late");
    assert_eq!(day(store.clone()).await, vec![(BASE, 3, 1)], "merged late");
    let stored = store
        .stored_rollups(Scope::Service, "s0", Period::Day, BASE, BASE + DAY)
        .await
        .expect("stored");
    assert_eq!(stored[0].1.probes, 3, "into the daily row itself");
}
