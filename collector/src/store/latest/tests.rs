//! Phases and certificate expiry with each result, and the latest result
//! per (service, agent): replaced by a newer result only.

use super::*;
use crate::store::ResultRecord;
use crate::store::testdb::store_tests;
use crate::store::tests::{agent_row, open};

store_tests!(
    phases_and_cert_expiry_are_stored_with_each_result,
    the_latest_result_of_each_agent_is_replaced_only_by_a_newer_one,
    one_upsert_per_thousand_pairs_or_one_on_postgres,
    error_text_with_array_syntax_is_stored_as_sent,
    an_agents_failures_are_the_services_its_latest_result_failed,
);

/// 2026-12-01T00:00:00Z, a certificate's notAfter (whole seconds).
const NOT_AFTER_MS: i64 = 1_796_083_200_000;

fn measured() -> Phases {
    Phases {
        dns_us: Some(1200),
        connect_us: Some(800),
        tls_us: Some(12_000),
        processing_us: Some(16_100),
        transfer_us: Some(2_000),
    }
}

fn record(agent: &str, seq: u64, at_ms: i64, ok: bool, phases: Phases) -> ResultRecord {
    ResultRecord {
        agent: agent.into(),
        result: ProbeResult {
            seq,
            service: "shop".into(),
            round_id: 0,
            started_at_ms: at_ms,
            outcome: ProbeOutcome {
                ok,
                status_code: Some(if ok { 200 } else { 503 }),
                error_kind: (!ok).then_some(ErrorKind::HttpStatus),
                error: (!ok).then(|| "HTTP 503".to_owned()),
                duration_us: 32_100,
                phases,
                cert_not_after_ms: Some(NOT_AFTER_MS),
            },
        },
    }
}

/// The stored result columns of `shop` at `time_ms`: the four phases and
/// the certificate expiry in seconds.
async fn stored_columns(store: &Store, time_ms: i64) -> Vec<Option<i64>> {
    let row = sqlx::query(
        "SELECT r.dns_us, r.connect_us, r.tls_us, r.processing_us, r.cert_not_after_s \
         FROM results r JOIN service_keys k ON k.key = r.service \
         WHERE k.id = 'shop' AND r.time_ms = $1",
    )
    .bind(time_ms)
    .fetch_one(&store.read)
    .await
    .expect("stored result");
    [
        "dns_us",
        "connect_us",
        "tls_us",
        "processing_us",
        "cert_not_after_s",
    ]
    .iter()
    .map(|c| row.try_get::<Option<i64>, _>(*c).expect("column"))
    .collect()
}

async fn phases_and_cert_expiry_are_stored_with_each_result() {
    let (_dir, store, _) = open().await;
    let unmeasured = Phases {
        processing_us: Some(30_000),
        ..Phases::default()
    };
    store
        .record_results(&[
            record("a1", 1, 1000, true, measured()),
            record("a1", 2, 2000, true, unmeasured),
        ])
        .await
        .expect("batch");
    assert_eq!(
        stored_columns(&store, 1000).await,
        [
            Some(1200),
            Some(800),
            Some(12_000),
            Some(16_100),
            Some(NOT_AFTER_MS / 1000)
        ]
    );
    assert_eq!(
        stored_columns(&store, 2000).await,
        [None, None, None, Some(30_000), Some(NOT_AFTER_MS / 1000)],
        "unmeasured phases are NULL"
    );
}

async fn the_latest_result_of_each_agent_is_replaced_only_by_a_newer_one() {
    let (_dir, store, _) = open().await;
    for id in ["a1", "a2"] {
        store.register_agent(&agent_row(id)).await.expect("agent");
    }
    // Out of order within the batch: the newest of each pair wins.
    let recorded = store
        .record_results(&[
            record("a1", 2, 2000, false, Phases::default()),
            record("a1", 1, 1000, true, measured()),
            record("a2", 1, 1500, true, measured()),
        ])
        .await
        .expect("batch");
    let latest = store.latest_results(&"shop".into()).await.expect("latest");
    let seen: Vec<(&str, &str, i64, bool)> = latest
        .iter()
        .map(|l| {
            (
                l.agent.as_str(),
                l.agent_name.as_str(),
                l.time_ms,
                l.outcome.ok,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a1", "edge-a1", 2000, false),
            ("a2", "edge-a2", 1500, true)
        ]
    );
    assert_eq!(latest[0].region, "eu");
    assert_eq!(latest[0].outcome.error_kind, Some(ErrorKind::HttpStatus));
    assert_eq!(latest[0].outcome.error.as_deref(), Some("HTTP 503"));
    assert_eq!(latest[1].outcome.phases, measured());
    assert_eq!(latest[1].outcome.cert_not_after_ms, Some(NOT_AFTER_MS));
    assert_eq!(latest[1].outcome.status_code, Some(200));

    // An older result (a late one) and a replay of a stored one, even with
    // another outcome, change nothing.
    let mut replay = record("a2", 1, 1500, false, Phases::default());
    replay.result.outcome.cert_not_after_ms = None;
    let again = store
        .record_results(&[record("a1", 3, 1800, true, measured()), replay])
        .await
        .expect("late and replayed");
    assert_eq!(again.stored, [true, false]);
    assert_eq!(
        store.latest_results(&"shop".into()).await.expect("latest"),
        latest
    );

    // A newer one replaces it, phases and all.
    store
        .record_results(&[record("a2", 2, 2500, true, Phases::default())])
        .await
        .expect("newer");
    let now = store.latest_results(&"shop".into()).await.expect("latest");
    assert_eq!(
        (now[1].time_ms, now[1].outcome.phases),
        (2500, Phases::default())
    );
    assert_eq!(now[0], latest[0], "the other agent's row is untouched");
    assert_eq!(recorded.stored, [true, true, true]);
}

async fn an_agents_failures_are_the_services_its_latest_result_failed() {
    let (_dir, store, _) = open().await;
    for id in ["a1", "a2", "a3"] {
        store.register_agent(&agent_row(id)).await.expect("agent");
    }
    store
        .record_results(&[
            record("a1", 1, 1000, false, Phases::default()),
            record("a2", 1, 1000, true, measured()),
            // a3 failed, then succeeded: its latest result is what counts.
            record("a3", 1, 1000, false, Phases::default()),
            record("a3", 2, 2000, true, measured()),
        ])
        .await
        .expect("batch");
    let failures = store.agent_failures(&"a1".into()).await.expect("a1");
    let seen: Vec<(&str, i64, Option<&str>)> = failures
        .iter()
        .map(|(s, l)| (s.as_str(), l.time_ms, l.outcome.error.as_deref()))
        .collect();
    assert_eq!(seen, [("shop", 1000, Some("HTTP 503"))]);
    for reaches in ["a2", "a3", "unknown"] {
        let none = store.agent_failures(&reaches.into()).await.expect(reaches);
        assert!(none.is_empty(), "{reaches}: {none:?}");
    }
}

async fn one_upsert_per_thousand_pairs_or_one_on_postgres() {
    let (_dir, store, _) = open().await;
    let results: Vec<ProbeResult> = (0..1001)
        .map(|i| record("a1", i + 1, 1000, true, measured()).result)
        .collect();
    let mut conn = store.write.acquire().await.expect("connection");
    let pairs = results.iter().enumerate().map(|(i, r)| ((i as i64, 1), r));
    // SQLite: 1000 rows per VALUES statement; PostgreSQL: one UNNEST
    // statement whatever the count.
    let expected = match store.backend() {
        Backend::Sqlite => 2,
        Backend::Postgres => 1,
    };
    assert_eq!(
        upsert_latest(&mut conn, pairs).await.expect("upsert"),
        expected
    );
    let same_pair = results.iter().map(|r| ((7, 1), r));
    assert_eq!(
        upsert_latest(&mut conn, same_pair).await.expect("upsert"),
        1
    );
}

/// PostgreSQL gets a batch as array literals (`rows.rs`): quotes,
/// backslashes, commas, braces and the word NULL in an error must come
/// back as sent, and a missing error as none.
async fn error_text_with_array_syntax_is_stored_as_sent() {
    let (_dir, store, _) = open().await;
    store.register_agent(&agent_row("a1")).await.expect("agent");
    store.register_agent(&agent_row("a2")).await.expect("agent");
    let text = r#"NULL, "quoted" {braced} \back\slash\ é"#;
    let mut failed = record("a1", 1, 1001, false, Phases::default());
    failed.result.outcome.error = Some(text.to_owned());
    let mut bare = record("a2", 1, 1000, false, Phases::default());
    bare.result.outcome.error = None;
    // The service shows its newest result: `failed`.
    store.record_results(&[bare, failed]).await.expect("batch");
    let latest = store.latest_results(&"shop".into()).await.expect("latest");
    let errors: Vec<Option<&str>> = latest.iter().map(|l| l.outcome.error.as_deref()).collect();
    assert_eq!(errors, [Some(text), None]);
    let service = store.get_service(&"shop".into()).await.expect("service");
    assert_eq!(service.last_error.as_deref(), Some(text));
}

#[test]
fn error_kind_codes_round_trip() {
    for kind in ErrorKind::ALL {
        assert_eq!(error_kind_of(error_kind_code(*kind)), Some(*kind));
    }
    assert_eq!(error_kind_of(0), None);
    assert_eq!(error_kind_of(99), None);
}
