//! Host and monitoring requests in the store, on both engines.

use crate::config::settings::CatalogSettings;
use crate::domain::{
    CloseReason, EventType, NewRequest, RequestKind, ServiceId, ServiceSnapshot, ServiceState,
    Stage, texts,
};
use crate::store::testdb::{self, TestDb, store_tests};
use crate::store::{Confirmed, EventSettings, GroupMember, Opened, Store, StoreError};

store_tests!(
    a_confirmed_failure_without_request_writes_service_down_once,
    a_host_request_links_its_services_and_lists_them_in_its_events,
    a_host_request_closes_when_its_last_service_is_back_up,
    a_late_service_joins_the_open_host_request_with_a_note,
    the_database_refuses_a_second_open_host_or_monitoring_request,
    closing_monitoring_unlinks_the_services_still_down,
    a_pending_service_gets_its_own_request_without_a_second_down_event,
    a_service_whose_request_was_closed_by_hand_waits_for_no_request_until_it_fails_again,
);

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
id = "a"
equipment = "web-1"
url = "http://a.test"
[[services]]
id = "b"
equipment = "web-1"
url = "http://b.test"
[[services]]
id = "c"
equipment = "web-1"
url = "http://c.test"
[[webhooks]]
name = "ops"
url = "http://hooks.test/x"
"#;

async fn open() -> (TestDb, Store) {
    let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    let (db, store) = testdb::store(EventSettings::from(&config)).await;
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    (db, store)
}

fn snap(id: &str, state: ServiceState) -> ServiceSnapshot {
    ServiceSnapshot {
        id: id.into(),
        url: format!("http://{id}.test"),
        equipment_id: "web-1".into(),
        equipment: "Web server 1".into(),
        state,
        votes: vec![],
    }
}

fn member(id: &str) -> GroupMember {
    GroupMember {
        service: id.into(),
        url: format!("http://{id}.test"),
        failure: "HTTP 503".into(),
        down_ms: 1_000,
        up_ms: None,
    }
}

fn host() -> NewRequest {
    NewRequest {
        name: texts::host_request_name("Web server 1"),
        kind: RequestKind::Host,
        priority: "2".into(),
        description: "2 of 3".into(),
        equipment_id: Some("web-1".into()),
        url: None,
    }
}

async fn down(store: &Store, ids: &[&str]) {
    for id in ids {
        let c = store
            .service_confirmed_down(&snap(id, ServiceState::Down))
            .await
            .expect("down");
        assert_eq!(c, Confirmed::Unlinked);
    }
}

async fn count(store: &Store, t: EventType) -> usize {
    let events = store.events_after(0, 1000).await.expect("events");
    events.iter().filter(|e| e.event_type == t).count()
}

async fn link_of(store: &Store, id: &str) -> Option<crate::domain::RequestId> {
    store
        .get_service(&ServiceId::from(id))
        .await
        .expect("service")
        .open_request
}

async fn a_confirmed_failure_without_request_writes_service_down_once() {
    let (_db, store) = open().await;
    down(&store, &["a"]).await;
    // A retry of the same verdict (or the same outage confirmed again).
    down(&store, &["a"]).await;
    assert_eq!(count(&store, EventType::ServiceDown).await, 1);
    let svc = store.get_service(&"a".into()).await.expect("svc");
    assert_eq!((svc.state, svc.open_request), (ServiceState::Down, None));
    assert!(store.list_requests(true).await.expect("list").is_empty());
    assert_eq!(
        store.unlinked_down_services().await.expect("unlinked"),
        vec![ServiceId::from("a")]
    );
}

async fn a_host_request_links_its_services_and_lists_them_in_its_events() {
    let (_db, store) = open().await;
    down(&store, &["a", "b"]).await;
    let req = store
        .open_group_request(&host(), &[member("a"), member("b")])
        .await
        .expect("open");
    assert_eq!(
        (req.kind, req.service_id.clone()),
        (RequestKind::Host, None)
    );
    assert_eq!(link_of(&store, "a").await, Some(req.id));
    assert_eq!(link_of(&store, "b").await, Some(req.id));
    assert!(store.unlinked_down_services().await.expect("u").is_empty());
    let events = store.events_after(0, 1000).await.expect("events");
    let opened = events
        .iter()
        .find(|e| e.event_type == EventType::RequestOpened)
        .expect("request.opened");
    let body: serde_json::Value = serde_json::from_str(&opened.payload).expect("json");
    assert_eq!(body["kind"], "host");
    assert_eq!(body["services"], serde_json::json!(["a", "b"]));
    // A confirmed failure of a member is linked, not re-announced.
    let again = store
        .service_confirmed_down(&snap("a", ServiceState::Down))
        .await
        .expect("again");
    assert_eq!(again, Confirmed::Linked(req.id));
    let groups = store.open_groups().await.expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].equipment, Some("web-1".into()));
    assert_eq!(groups[0].members.len(), 2);
}

async fn a_host_request_closes_when_its_last_service_is_back_up() {
    let (_db, store) = open().await;
    down(&store, &["a", "b"]).await;
    let req = store
        .open_group_request(&host(), &[member("a"), member("b")])
        .await
        .expect("open");
    let first = store
        .group_member_up(&snap("a", ServiceState::Up), req.id, true, "a is back")
        .await
        .expect("a up");
    assert_eq!(first, None, "closed while b is still down");
    assert_eq!(link_of(&store, "a").await, None);
    let open = store.get_request(req.id).await.expect("get");
    assert_eq!(open.stage, Stage::Open);
    assert_eq!(
        open.notes.last().map(|n| n.text.as_str()),
        Some("a is back")
    );
    let closed = store
        .group_member_up(&snap("b", ServiceState::Up), req.id, true, "b is back")
        .await
        .expect("b up")
        .expect("closed with its last service");
    assert_eq!(closed.close_reason, Some(CloseReason::Recovered));
    let note = &closed.notes.last().expect("closing note").text;
    assert!(
        note.starts_with("closed automatically: every service is back up"),
        "{note}"
    );
    assert!(note.contains("- a (http://a.test): down"), "{note}");
    assert!(note.contains("- b (http://b.test): down"), "{note}");
    assert_eq!(count(&store, EventType::ServiceUp).await, 2);
    assert_eq!(count(&store, EventType::RequestClosed).await, 1);
    assert!(store.open_groups().await.expect("groups").is_empty());
}

async fn a_late_service_joins_the_open_host_request_with_a_note() {
    let (_db, store) = open().await;
    down(&store, &["a", "b"]).await;
    let req = store
        .open_group_request(&host(), &[member("a"), member("b")])
        .await
        .expect("open");
    down(&store, &["c"]).await;
    assert!(
        store
            .join_group_request(req.id, &member("c"), "c is down too")
            .await
            .expect("join")
    );
    assert_eq!(link_of(&store, "c").await, Some(req.id));
    let r = store.get_request(req.id).await.expect("get");
    assert_eq!(
        r.notes.last().map(|n| n.text.as_str()),
        Some("c is down too")
    );
    assert_eq!(count(&store, EventType::RequestOpened).await, 1);
    let groups = store.open_groups().await.expect("groups");
    assert_eq!(groups[0].members.len(), 3);
}

async fn the_database_refuses_a_second_open_host_or_monitoring_request() {
    let (_db, store) = open().await;
    store
        .open_group_request(&host(), &[member("a")])
        .await
        .expect("first host");
    let second = store.open_group_request(&host(), &[member("b")]).await;
    assert!(matches!(second, Err(StoreError::Sql(_))), "{second:?}");
    let mon = texts::monitoring_request("http://c.test", 3, 3, 2);
    store
        .open_group_request(&mon, &[member("c")])
        .await
        .expect("first monitoring");
    let again = store.open_group_request(&mon, &[]).await;
    assert!(matches!(again, Err(StoreError::Sql(_))), "{again:?}");
}

async fn closing_monitoring_unlinks_the_services_still_down() {
    let (_db, store) = open().await;
    down(&store, &["a", "b"]).await;
    let mon = texts::monitoring_request("http://c.test", 2, 3, 1);
    let req = store
        .open_group_request(&mon, &[member("a"), member("b")])
        .await
        .expect("open");
    store
        .group_member_up(&snap("a", ServiceState::Up), req.id, true, "a is back")
        .await
        .expect("a up");
    assert_eq!(
        store.get_request(req.id).await.expect("get").stage,
        Stage::Open,
        "monitoring closes on the share of down services, not its members"
    );
    let closed = store
        .close_monitoring_request(req.id, 1, 3)
        .await
        .expect("close")
        .expect("was open");
    let note = &closed.notes.last().expect("note").text;
    assert!(note.contains("1 of 3 active services are down"), "{note}");
    assert!(note.contains("- b (http://b.test): still down"), "{note}");
    assert_eq!(link_of(&store, "b").await, None);
    assert_eq!(
        store.unlinked_down_services().await.expect("u"),
        vec![ServiceId::from("b")]
    );
}

async fn a_pending_service_gets_its_own_request_without_a_second_down_event() {
    let (_db, store) = open().await;
    down(&store, &["a"]).await;
    let opened = store
        .open_service_request(
            &"a".into(),
            &texts::service_request("http://a.test", &"web-1".into(), "2", &[]),
        )
        .await
        .expect("open");
    let Opened::New(req) = opened else {
        panic!("{opened:?}")
    };
    assert_eq!(link_of(&store, "a").await, Some(req.id));
    assert_eq!(count(&store, EventType::ServiceDown).await, 1);
    assert_eq!(count(&store, EventType::RequestOpened).await, 1);
    let again = store
        .open_service_request(
            &"a".into(),
            &texts::service_request("http://a.test", &"web-1".into(), "2", &[]),
        )
        .await
        .expect("again");
    assert_eq!(again, Opened::Existing(req.id));
}

/// Waits until the system clock (the store's) has moved past `ms`.
async fn clock_past(ms: i64) {
    while crate::time::Clock::system().now_ms() <= ms {
        tokio::task::yield_now().await;
    }
}

/// What a restart resumes from: a service still down whose request (its
/// own, or its host's) was closed by hand is not waiting for a request;
/// once it has recovered and failed again, it is.
async fn a_service_whose_request_was_closed_by_hand_waits_for_no_request_until_it_fails_again() {
    let (_db, store) = open().await;
    down(&store, &["a", "b", "c"]).await;
    let own = store
        .open_service_request(
            &"a".into(),
            &texts::service_request("http://a.test", &"web-1".into(), "2", &[]),
        )
        .await
        .expect("open");
    let Opened::New(own) = own else {
        panic!("{own:?}")
    };
    let group = store
        .open_group_request(&host(), &[member("b")])
        .await
        .expect("open host");
    assert_eq!(
        store.unlinked_down_services().await.expect("u"),
        vec![ServiceId::from("c")],
        "c was confirmed and its request not decided yet"
    );
    store
        .close_request_by_hand(own.id, "known")
        .await
        .expect("close a");
    let closed = store
        .close_request_by_hand(group.id, "known")
        .await
        .expect("close host");
    assert_eq!(
        (link_of(&store, "a").await, link_of(&store, "b").await),
        (None, None)
    );
    assert_eq!(
        store.unlinked_down_services().await.expect("u"),
        vec![ServiceId::from("c")],
        "a and b stay down with their requests closed by hand"
    );

    // Recovered, then failed again: waiting for a request again.
    clock_past(closed.closed_ms.expect("closed")).await;
    for id in ["a", "b"] {
        store
            .set_service_state(&id.into(), ServiceState::Up)
            .await
            .expect("up");
    }
    clock_past(crate::time::Clock::system().now_ms()).await;
    down(&store, &["a", "b"]).await;
    assert_eq!(
        store.unlinked_down_services().await.expect("u"),
        vec![ServiceId::from("a"), "b".into(), "c".into()]
    );
}
