//! The store against a real SQLite file.

use std::time::Duration;

use super::*;
use crate::config::settings::CatalogSettings;
use crate::domain::{
    CloseReason, ErrorKind, EventType, Liveness, NewRequest, ProbeOutcome, ProbeResult,
    RequestKind, ServiceId, ServiceSnapshot, ServiceState, Stage, texts,
};
use crate::store::testdb::{self, TestDb, store_tests};

store_tests!(
    many_states_in_one_transaction_the_last_of_each_service_wins,
    one_open_request_per_service_and_close_clears_link,
    the_database_refuses_a_second_open_request,
    events_are_sequenced_and_routed_to_the_outbox,
    pending_deliveries_of_a_removed_webhook_are_given_up_and_others_kept,
    replayed_results_are_ignored_and_latest_outcome_kept,
    a_service_removed_from_the_config_closes_its_request,
    heartbeats_keep_the_latest_and_a_pruned_history,
    agent_requests_open_once_and_close_with_a_note,
    unknown_names_in_rows_are_corrupt,
);

pub(super) const CONFIG: &str = r#"
[collector]
database = "sqlite://unused.db"
public_url = "http://picket.test"
[agents]
enrollment_token = "t"
[[equipment]]
id = "web-1"
name = "Web server 1"
[[services]]
id = "shop"
equipment = "web-1"
url = "http://shop.test"
[[webhooks]]
name = "ops"
url = "http://hooks.test/x"
events = ["request.opened", "request.closed"]
"#;

pub(super) async fn open() -> (TestDb, Store, crate::config::Config) {
    let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    let (db, store) = testdb::store(EventSettings::from(&config)).await;
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    (db, store, config)
}

pub(super) fn shop(state: ServiceState) -> ServiceSnapshot {
    ServiceSnapshot {
        id: "shop".into(),
        url: "http://shop.test".into(),
        equipment_id: "web-1".into(),
        equipment: "Web server 1".into(),
        state,
        votes: vec![],
    }
}

pub(super) fn new_request() -> NewRequest {
    NewRequest {
        name: "[HTTP KO] http://shop.test".into(),
        kind: RequestKind::Corrective,
        priority: "2".into(),
        description: "HTTP 500".into(),
        equipment_id: Some("web-1".into()),
        url: Some("http://shop.test".into()),
    }
}

fn result(seq: u64, ok: bool) -> ResultRecord {
    ResultRecord {
        agent: "a1".into(),
        result: ProbeResult {
            seq,
            service: "shop".into(),
            round_id: 0,
            started_at_ms: 1000 + seq as i64,
            outcome: ProbeOutcome {
                ok,
                status_code: Some(if ok { 200 } else { 500 }),
                error_kind: (!ok).then_some(ErrorKind::HttpStatus),
                error: (!ok).then(|| "HTTP 500".to_owned()),
                duration_us: 1234,
                phases: Default::default(),
                cert_not_after_ms: None,
            },
        },
    }
}

async fn one_open_request_per_service_and_close_clears_link() {
    let (_dir, store, _) = open().await;
    let first = store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down");
    let Opened::New(req) = first else {
        panic!("first down must open: {first:?}")
    };
    assert_eq!(req.stage, Stage::Open);
    let again = store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down again");
    assert_eq!(again, Opened::Existing(req.id), "never a duplicate");
    let downs = store.events_after(0, 100).await.expect("events");
    assert_eq!(
        downs
            .iter()
            .filter(|e| e.event_type == EventType::ServiceDown)
            .count(),
        1,
        "the same outage is announced once"
    );
    assert_eq!(store.list_requests(true).await.expect("list").len(), 1);
    let svc = store.get_service(&"shop".into()).await.expect("svc");
    assert_eq!(
        (svc.state, svc.open_request),
        (ServiceState::Down, Some(req.id))
    );
    // What start-up reads back (the evaluator's trackers).
    assert_eq!(
        store.service_states().await.expect("states"),
        vec![("shop".into(), ServiceState::Down, true)]
    );

    let closed = store
        .service_up(&shop(ServiceState::Up), true, "closed automatically")
        .await
        .expect("up");
    let closed = closed.expect("a request was open");
    assert_eq!(
        (closed.stage, closed.close_reason),
        (Stage::Done, Some(CloseReason::Recovered))
    );
    assert_eq!(closed.notes.len(), 1);
    assert_eq!(closed.notes[0].author, "picket");
    let svc = store.get_service(&"shop".into()).await.expect("svc");
    assert_eq!((svc.state, svc.open_request), (ServiceState::Up, None));
    assert_eq!(
        store.service_states().await.expect("states"),
        vec![("shop".into(), ServiceState::Up, false)]
    );

    let Opened::New(second) = store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down")
    else {
        panic!("a new failure opens a new request")
    };
    assert_ne!(second.id, req.id);
}

async fn the_database_refuses_a_second_open_request() {
    let (_dir, store, _) = open().await;
    store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down");
    let dup = sqlx::query(
        "INSERT INTO requests (name, kind, priority, description, stage, service_id, opened_ms) \
         VALUES ('x', 'corrective', '2', 'x', 'open', 'shop', 1)",
    )
    .execute(&store.write)
    .await;
    assert!(
        dup.is_err(),
        "the unique index must refuse a second open request"
    );
}

async fn events_are_sequenced_and_routed_to_the_outbox() {
    let (_dir, store, _) = open().await;
    let mut seen = store.subscribe_events();
    store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down");
    store
        .service_up(&shop(ServiceState::Up), true, "note")
        .await
        .expect("up");
    assert!(
        seen.has_changed().expect("watch alive"),
        "commit bumps the watch"
    );
    let events = store.events_after(0, 100).await.expect("events");
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "service.down",
            "request.opened",
            "service.up",
            "request.closed"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(*seen.borrow_and_update(), events[3].seq);
    let due = store
        .due_deliveries("ops", i64::MAX, 100)
        .await
        .expect("due");
    assert_eq!(due.len(), 2, "only the subscribed events reach the outbox");
    let body: serde_json::Value = serde_json::from_str(&due[0].body).expect("json");
    assert_eq!(body["event"], "request.opened");
    assert_eq!(body["equipment"], "Web server 1");
    assert_eq!(
        body["link"],
        format!("http://picket.test/requests/{}", body["id"])
    );
    assert_eq!(due[0].msg_id, body["event_id"]);
    assert_eq!(
        due[0].body, events[1].payload,
        "the outbox carries the event log's text"
    );
}

async fn pending_deliveries_of_a_removed_webhook_are_given_up_and_others_kept() {
    let (_dir, store, _) = open().await;
    store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down");
    let due = store
        .due_deliveries("ops", i64::MAX, 10)
        .await
        .expect("due");
    assert_eq!(due.len(), 1, "request.opened waits for ops");
    let kept = store
        .abandon_deliveries_except(&["ops".to_owned()], "gone", 7)
        .await
        .expect("abandon");
    assert_eq!(kept, 0, "a configured receiver keeps its pending rows");

    let given_up = store
        .abandon_deliveries_except(&["other".to_owned()], "gone", 7)
        .await
        .expect("abandon");
    assert_eq!(given_up, 1);
    let rows = store
        .list_deliveries(&DeliveryFilter::default(), 10)
        .await
        .expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "failed");
    assert_eq!(rows[0].last_error.as_deref(), Some("gone"));
    assert!(
        store
            .due_deliveries("ops", i64::MAX, 10)
            .await
            .expect("due")
            .is_empty(),
        "a given-up delivery is not sent"
    );
}

async fn replayed_results_are_ignored_and_latest_outcome_kept() {
    let (_dir, store, _) = open().await;
    store
        .record_results(&[result(1, true), result(2, false)])
        .await
        .expect("batch");
    store
        .record_results(&[result(2, false), result(1, true)])
        .await
        .expect("replay");
    assert_eq!(store.count_results(&"shop".into()).await.expect("count"), 2);
    let svc = store.get_service(&"shop".into()).await.expect("svc");
    assert_eq!(svc.ok, Some(false));
    assert_eq!(svc.last_status_code, Some(500));
    assert_eq!(svc.last_error.as_deref(), Some("HTTP 500"));
}

async fn a_service_removed_from_the_config_closes_its_request() {
    let (_dir, store, _) = open().await;
    let Opened::New(req) = store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down")
    else {
        panic!("opens")
    };
    let without = CONFIG.replace(
        "[[services]]\nid = \"shop\"\nequipment = \"web-1\"\nurl = \"http://shop.test\"\n",
        "",
    );
    let config = crate::config::parse(std::path::Path::new("t.toml"), &without).expect("config");
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    let closed = store.get_request(req.id).await.expect("request");
    assert_eq!(
        (closed.stage, closed.close_reason),
        (Stage::Done, Some(CloseReason::Removed))
    );
    assert_eq!(closed.notes[0].author, "picket");
    assert!(
        store.list_services().await.expect("list").is_empty(),
        "inactive services are not listed"
    );
    let events = store.events_after(0, 100).await.expect("events");
    assert_eq!(
        events.last().map(|e| e.event_type),
        Some(EventType::RequestClosed)
    );
}

pub(super) fn agent_row(id: &str) -> AgentRow {
    AgentRow {
        id: id.into(),
        name: format!("edge-{id}"),
        region: "eu".into(),
        labels: Default::default(),
        state: crate::domain::AgentState::Active,
        credential_hash: Some("h".into()),
        version: Some("0.1.0".into()),
        created_ms: 1,
        last_seen_ms: Some(1),
        stats: None,
        last_seq: 0,
    }
}

async fn heartbeats_keep_the_latest_and_a_pruned_history() {
    let (_dir, store, _) = open().await;
    store
        .register_agent(&agent_row("a1"))
        .await
        .expect("register");
    // Heartbeats ride in result batches; history older than
    // HEARTBEAT_HISTORY_MS before the newest one is pruned.
    let keep = HEARTBEAT_HISTORY_MS;
    for (t, cpu) in [
        (1000, 1.0),
        (1000 + keep / 2, 2.0),
        (1000 + keep + 400, 3.0),
    ] {
        let heartbeat = HeartbeatRecord {
            agent: "a1".into(),
            time_ms: t,
            stats: crate::domain::HostStats {
                cpu_percent: cpu,
                ..Default::default()
            },
        };
        store
            .record_batch(&[], &[heartbeat])
            .await
            .expect("heartbeat");
    }
    let history = store
        .agent_heartbeats(&"a1".into(), 0)
        .await
        .expect("history");
    let kept: Vec<(i64, f64)> = history.iter().map(|(t, s)| (*t, s.cpu_percent)).collect();
    assert_eq!(
        kept,
        [(1000 + keep / 2, 2.0), (1000 + keep + 400, 3.0)],
        "older than the history is pruned"
    );
    let agent = store
        .get_agent(&"a1".into())
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (agent.last_seen_ms, agent.stats.map(|s| s.cpu_percent)),
        (Some(1000 + keep + 400), Some(3.0))
    );
}

async fn agent_requests_open_once_and_close_with_a_note() {
    let (_dir, store, _) = open().await;
    let a = agent_row("a1");
    let silent = texts::agent_down_request(&a.snapshot(Liveness::Dead), Duration::from_secs(10), 3);
    store.register_agent(&a).await.expect("register");
    let id = store
        .agent_down(&a, &silent)
        .await
        .expect("down")
        .expect("opened");
    assert_eq!(
        store.agent_down(&a, &silent).await.expect("down again"),
        None,
        "never a duplicate"
    );
    assert_eq!(
        store.agents_with_open_request().await.expect("open"),
        ["a1"]
    );
    let open = store.get_request(id).await.expect("request");
    assert_eq!(
        (
            open.name.as_str(),
            open.kind,
            open.agent_id.as_ref().map(|a| a.as_str())
        ),
        ("[AGENT DOWN] edge-a1", RequestKind::Agent, Some("a1"))
    );
    assert_eq!(open.service_id, None);
    assert_eq!(store.agent_up(&a, "back").await.expect("up"), Some(id));
    assert_eq!(
        store.agent_up(&a, "back").await.expect("up again"),
        None,
        "nothing left to close"
    );
    let all = store.list_requests(false).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].stage, all[0].close_reason),
        (Stage::Done, Some(CloseReason::Recovered))
    );
    assert_eq!(
        all[0]
            .notes
            .iter()
            .map(|n| n.text.as_str())
            .collect::<Vec<_>>(),
        ["back"],
        "notes come with the list"
    );
    let types: Vec<String> = store
        .events_after(0, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "agent.registered",
            "agent.down",
            "request.opened",
            "agent.down",
            "agent.up",
            "request.closed",
            "agent.up"
        ]
    );
}

async fn unknown_names_in_rows_are_corrupt() {
    let (_dir, store, _) = open().await;
    sqlx::query(
        "INSERT INTO requests (name, kind, priority, description, stage, service_id, opened_ms) \
         VALUES ('x', 'bogus', '2', 'x', 'open', 'shop', 1)",
    )
    .execute(&store.write)
    .await
    .expect("insert");
    sqlx::query(
        "INSERT INTO events (event_id, time_ms, type, subject, payload) VALUES ('m', 1, 'service.sideways', 's', '{}')",
    )
    .execute(&store.write)
    .await
    .expect("insert");
    let requests = store.list_requests(false).await;
    assert!(
        matches!(
            requests,
            Err(StoreError::Corrupt {
                table: "requests",
                ..
            })
        ),
        "{requests:?}"
    );
    let events = store.events_after(0, 10).await;
    assert!(
        matches!(
            events,
            Err(StoreError::Corrupt {
                table: "events",
                ..
            })
        ),
        "{events:?}"
    );
}

/// PostgreSQL only by nature: the URL's `sslmode` reaches the server. The
/// test server has no TLS, so `require` is refused and `disable` connects.
#[tokio::test]
async fn the_sslmode_of_a_postgres_url_is_passed_through() {
    let (db, url) = testdb::on(Backend::Postgres, testdb::database()).await;
    let plain = format!("{url}?sslmode=disable").replace("postgres://", "postgresql://");
    let store = Store::open(&plain, EventSettings::default(), Clock::system())
        .await
        .expect("sslmode=disable connects");
    assert_eq!(store.backend(), Backend::Postgres);
    assert!(store.ping().await);
    store.close().await;
    let tls = Store::open(
        &format!("{url}?sslmode=require"),
        EventSettings::default(),
        Clock::system(),
    )
    .await;
    let err = tls
        .err()
        .expect("sslmode=require refused by a server without TLS")
        .to_string();
    assert!(
        err.to_lowercase().contains("tls") || err.to_lowercase().contains("ssl"),
        "{err}"
    );
    drop(db);
}

async fn many_states_in_one_transaction_the_last_of_each_service_wins() {
    let (_dir, store, _) = open().await;
    let (shop, gone) = (ServiceId::from("shop"), ServiceId::from("gone"));
    let state = || async { store.get_service(&shop).await.expect("shop").state };
    for (states, last) in [
        (
            vec![
                (&shop, ServiceState::Suspect),
                (&gone, ServiceState::Up),
                (&shop, ServiceState::Up),
            ],
            ServiceState::Up,
        ),
        (
            vec![(&shop, ServiceState::Up), (&shop, ServiceState::Suspect)],
            ServiceState::Suspect,
        ),
    ] {
        store.set_service_states(&states).await.expect("states");
        assert_eq!(state().await, last, "{states:?}");
    }
}
