//! Page reads against a real SQLite file: keyset pages both ways with and
//! without filters, and uptimes equal to `Store::history`'s.

use super::*;
use crate::config::settings::CatalogSettings;
use crate::domain::{ErrorKind, ProbeOutcome, ProbeResult};
use crate::store::testdb::{self, TestDb, store_tests};
use crate::store::{EventSettings, ResultRecord};

store_tests!(
    pages_follow_equipment_then_id_forwards_and_back,
    filters_select_by_state_and_equipment,
    page_uptimes_equal_the_history_of_each_service,
    page_uptimes_equal_the_history_while_days_are_folded,
    recent_requests_come_newest_first_and_the_open_one_shows_on_the_page,
);

/// Services `s0`..`s6`: s0..s3 on equipment `b`, s4..s6 on `a`.
async fn open() -> (TestDb, Store) {
    let mut toml = String::from(
        "[collector]\ndatabase = \"sqlite://unused.db\"\n[agents]\nenrollment_token = \"t\"\n\
         [[equipment]]\nid = \"a\"\nname = \"Alpha\"\n[[equipment]]\nid = \"b\"\nname = \"Beta\"\n",
    );
    for i in 0..7 {
        let eq = if i < 4 { "b" } else { "a" };
        toml.push_str(&format!(
            "[[services]]\nid = \"s{i}\"\nequipment = \"{eq}\"\nurl = \"http://s{i}.test\"\n"
        ));
    }
    let config = crate::config::parse(std::path::Path::new("t.toml"), &toml).expect("config");
    let (db, store) = testdb::store(EventSettings::default()).await;
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    (db, store)
}

fn ids(page: &ServicePage) -> Vec<&str> {
    page.services.iter().map(|s| s.row.id.as_str()).collect()
}

async fn pages_follow_equipment_then_id_forwards_and_back() {
    let (_dir, store) = open().await;
    let all = PageFilter::default();
    let p1 = store.service_page(&all, &Cursor::First, 3).await.unwrap();
    assert_eq!(ids(&p1), ["s4", "s5", "s6"]);
    assert_eq!((p1.has_prev, p1.has_next), (false, true));
    assert_eq!(p1.services[0].equipment_name, "Alpha");
    let p2 = store
        .service_page(&all, &Cursor::After("s6".into()), 3)
        .await
        .unwrap();
    assert_eq!(ids(&p2), ["s0", "s1", "s2"]);
    assert_eq!((p2.has_prev, p2.has_next), (true, true));
    let p3 = store
        .service_page(&all, &Cursor::After("s2".into()), 3)
        .await
        .unwrap();
    assert_eq!(ids(&p3), ["s3"]);
    assert_eq!((p3.has_prev, p3.has_next), (true, false));
    let back = store
        .service_page(&all, &Cursor::Before("s3".into()), 3)
        .await
        .unwrap();
    assert_eq!(back, p2, "previous of page 3 is page 2");
    let back = store
        .service_page(&all, &Cursor::Before("s0".into()), 3)
        .await
        .unwrap();
    assert_eq!(back, p1, "previous of page 2 is page 1");
    let short = store
        .service_page(&all, &Cursor::Before("s5".into()), 3)
        .await
        .unwrap();
    assert_eq!(
        short, p1,
        "a previous page near the start is the full first page"
    );
}

async fn filters_select_by_state_and_equipment() {
    let (_dir, store) = open().await;
    for id in ["s1", "s3", "s5"] {
        store
            .set_service_state(&id.into(), ServiceState::Down)
            .await
            .unwrap();
    }
    let down = PageFilter {
        state: Some(ServiceState::Down),
        equipment: None,
    };
    let p = store.service_page(&down, &Cursor::First, 2).await.unwrap();
    assert_eq!(ids(&p), ["s5", "s1"]);
    assert!(p.has_next);
    let p = store
        .service_page(&down, &Cursor::After("s1".into()), 2)
        .await
        .unwrap();
    assert_eq!(ids(&p), ["s3"]);
    assert!(!p.has_next);
    let beta_down = PageFilter {
        state: Some(ServiceState::Down),
        equipment: Some("b".into()),
    };
    let p = store
        .service_page(&beta_down, &Cursor::First, 10)
        .await
        .unwrap();
    assert_eq!(ids(&p), ["s1", "s3"]);
    let alpha = PageFilter {
        state: None,
        equipment: Some("a".into()),
    };
    let p = store
        .service_page(&alpha, &Cursor::First, 10)
        .await
        .unwrap();
    assert_eq!(ids(&p), ["s4", "s5", "s6"]);
}

fn record(service: &str, seq: u64, time_ms: i64, ok: bool) -> ResultRecord {
    ResultRecord {
        agent: "a1".into(),
        result: ProbeResult {
            seq,
            service: service.into(),
            round_id: 0,
            started_at_ms: time_ms,
            outcome: ProbeOutcome {
                ok,
                status_code: Some(if ok { 200 } else { 503 }),
                error_kind: (!ok).then_some(ErrorKind::HttpStatus),
                error: (!ok).then(|| "HTTP 503".to_owned()),
                duration_us: 1000 + seq,
                phases: Default::default(),
                cert_not_after_ms: None,
            },
        },
    }
}

async fn page_uptimes_equal_the_history_of_each_service() {
    let (_dir, store) = open().await;
    let now = store.clock().now_ms();
    uptimes_equal_history(&store, now, true).await;
}

/// Folding started 100 days back: each window is read from hourly rows,
/// from daily rows, and from both, as the fold goes (nine days at a time).
async fn page_uptimes_equal_the_history_while_days_are_folded() {
    let (_dir, store) = open().await;
    let now = store.clock().now_ms();
    let day = 86_400_000;
    store.start_folding(now - 100 * day).await.unwrap();
    let first = uptimes_equal_history(&store, now, true).await;
    for days_ago in (0..=95).rev().step_by(9) {
        while !store
            .fold_rollups(now - days_ago * day, 3)
            .await
            .unwrap()
            .done
        {}
        let again = uptimes_equal_history(&store, now, false).await;
        assert_eq!(again, first, "folded up to {days_ago} days ago");
    }
}

/// Records results at the edges of every window (when `record`), then
/// checks that the page's uptimes of each service equal its history;
/// returns the uptimes.
async fn uptimes_equal_history(store: &Store, now: i64, record_them: bool) -> Vec<Uptimes> {
    let hour = 3_600_000;
    // The current (partial) hour, the edges of each window and beyond.
    let ages_h = [
        0,
        1,
        23,
        24,
        100,
        167,
        168,
        24 * 29,
        24 * 30,
        24 * 89,
        24 * 95,
    ];
    let mut batch = Vec::new();
    let mut seq = 0;
    for (n, service) in ["s0", "s4"].iter().enumerate() {
        for (i, age) in ages_h.iter().enumerate() {
            for k in 0..=(i + n) {
                seq += 1;
                let ok = (k + n) % 3 != 0;
                batch.push(record(service, seq, now - age * hour - k as i64, ok));
            }
        }
    }
    if record_them {
        store.record_batch(&batch, &[]).await.unwrap();
    }
    let page = store
        .service_page(&PageFilter::default(), &Cursor::First, 10)
        .await
        .unwrap();
    let keys: Vec<i64> = page.services.iter().filter_map(|s| s.key).collect();
    assert_eq!(keys.len(), 2, "only s0 and s4 have results");
    let uptimes = store.page_uptimes(&keys, now).await.unwrap();
    for s in page.services.iter().filter(|s| s.key.is_some()) {
        let h = store
            .history(Scope::Service, s.row.id.as_str(), now)
            .await
            .unwrap();
        let u = &uptimes[&s.key.unwrap()];
        let counts = |x: &crate::domain::rollup::Summary| Counts {
            probes: x.probes,
            failures: x.failures,
        };
        assert_eq!(u.last_24h, counts(&h.last_24h), "{} 24h", s.row.id);
        assert_eq!(u.last_7d, counts(&h.last_7d), "{} 7d", s.row.id);
        assert_eq!(u.last_30d, counts(&h.last_30d), "{} 30d", s.row.id);
        let daily: Vec<_> = h.daily.iter().map(|(d, x)| (*d, counts(x))).collect();
        assert_eq!(u.daily, daily, "{} daily", s.row.id);
        assert!(u.last_24h.probes > 0 && u.last_24h.failures > 0, "{u:?}");
        assert!(u.last_30d.probes > u.last_7d.probes);
    }
    keys.iter().map(|k| uptimes[k].clone()).collect()
}

fn snapshot(id: &str) -> crate::domain::ServiceSnapshot {
    crate::domain::ServiceSnapshot {
        id: id.into(),
        url: format!("http://{id}.test"),
        equipment_id: "b".into(),
        equipment: "Beta".into(),
        state: ServiceState::Down,
        votes: vec![],
    }
}

fn new_request(n: u32) -> crate::domain::NewRequest {
    crate::domain::NewRequest {
        name: format!("[HTTP KO] outage {n}"),
        kind: crate::domain::RequestKind::Corrective,
        priority: "2".into(),
        description: "HTTP 503".into(),
        equipment_id: Some("b".into()),
        url: None,
    }
}

async fn recent_requests_come_newest_first_and_the_open_one_shows_on_the_page() {
    let (_dir, store) = open().await;
    for n in 0..3 {
        store
            .service_down(&snapshot("s1"), &new_request(n))
            .await
            .unwrap();
        if n < 2 {
            store
                .service_up(&snapshot("s1"), true, "back")
                .await
                .unwrap();
        }
    }
    store
        .service_down(&snapshot("s2"), &new_request(9))
        .await
        .unwrap();
    let recent = store.service_requests(&"s1".into(), 2).await.unwrap();
    let names: Vec<&str> = recent.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["[HTTP KO] outage 2", "[HTTP KO] outage 1"]);
    let page = store
        .service_page(&PageFilter::default(), &Cursor::First, 10)
        .await
        .unwrap();
    let opened: Vec<(&str, bool)> = page
        .services
        .iter()
        .map(|s| (s.row.id.as_str(), s.request_opened_ms.is_some()))
        .collect();
    assert!(opened.contains(&("s1", true)) && opened.contains(&("s2", true)));
    assert!(opened.contains(&("s0", false)));
}
