//! The store against a real SQLite file.

use serde_json::Map;

use super::*;
use crate::domain::{ErrorKind, ProbeOutcome, ProbeResult, ServiceState};

const CONFIG: &str = r#"
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

async fn open() -> (tempfile::TempDir, Store, crate::config::Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    let url = format!("sqlite://{}", dir.path().join("picket.db").display());
    let store = Store::open(&url, EventSettings::new(&config))
        .await
        .expect("open");
    store.sync_config(&config).await.expect("sync");
    (dir, store, config)
}

fn new_request() -> NewRequest {
    NewRequest {
        name: "[HTTP KO] http://shop.test".into(),
        kind: "corrective".into(),
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
            },
        },
    }
}

#[tokio::test]
async fn one_open_request_per_service_and_close_clears_link() {
    let (_dir, store, _) = open().await;
    let first = store
        .service_down("shop", new_request(), Map::new())
        .await
        .expect("down");
    let Opened::New(req) = first else {
        panic!("first down must open: {first:?}")
    };
    assert_eq!(req.stage, "open");
    let again = store
        .service_down("shop", new_request(), Map::new())
        .await
        .expect("down again");
    assert_eq!(again, Opened::Existing(req.id), "never a duplicate");
    let downs = store.events_after(0, 100).await.expect("events");
    assert_eq!(
        downs
            .iter()
            .filter(|e| e.event_type == "service.down")
            .count(),
        1,
        "the same outage is announced once"
    );
    assert_eq!(store.list_requests(true).await.expect("list").len(), 1);
    let svc = store.get_service("shop").await.expect("svc");
    assert_eq!(
        (svc.state, svc.open_request),
        (ServiceState::Down, Some(req.id))
    );

    let closed = store
        .service_up("shop", true, "closed automatically", Map::new())
        .await
        .expect("up");
    let closed = closed.expect("a request was open");
    assert_eq!(
        (closed.stage.as_str(), closed.close_reason.as_deref()),
        ("done", Some("recovered"))
    );
    assert_eq!(closed.notes.len(), 1);
    assert_eq!(closed.notes[0].author, "picket");
    let svc = store.get_service("shop").await.expect("svc");
    assert_eq!((svc.state, svc.open_request), (ServiceState::Up, None));

    let Opened::New(second) = store
        .service_down("shop", new_request(), Map::new())
        .await
        .expect("down")
    else {
        panic!("a new failure opens a new request")
    };
    assert_ne!(second.id, req.id);
}

#[tokio::test]
async fn the_database_refuses_a_second_open_request() {
    let (_dir, store, _) = open().await;
    store
        .service_down("shop", new_request(), Map::new())
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

#[tokio::test]
async fn events_are_sequenced_and_routed_to_the_outbox() {
    let (_dir, store, _) = open().await;
    let mut seen = store.subscribe_events();
    store
        .service_down("shop", new_request(), Map::new())
        .await
        .expect("down");
    store
        .service_up("shop", true, "note", Map::new())
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
}

#[tokio::test]
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
    assert_eq!(store.count_results("shop").await.expect("count"), 2);
    let svc = store.get_service("shop").await.expect("svc");
    assert_eq!(svc.ok, Some(false));
    assert_eq!(svc.last_status_code, Some(500));
    assert_eq!(svc.last_error.as_deref(), Some("HTTP 500"));
}

#[tokio::test]
async fn a_service_removed_from_the_config_closes_its_request() {
    let (_dir, store, _) = open().await;
    let Opened::New(req) = store
        .service_down("shop", new_request(), Map::new())
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
    store.sync_config(&config).await.expect("sync");
    let closed = store.get_request(req.id).await.expect("request");
    assert_eq!(
        (closed.stage.as_str(), closed.close_reason.as_deref()),
        ("done", Some("removed"))
    );
    assert_eq!(closed.notes[0].author, "picket");
    assert!(
        store.list_services().await.expect("list").is_empty(),
        "inactive services are not listed"
    );
    let events = store.events_after(0, 100).await.expect("events");
    assert_eq!(
        events.last().map(|e| e.event_type.as_str()),
        Some("request.closed")
    );
}
