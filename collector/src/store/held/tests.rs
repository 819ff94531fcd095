//! Held outages on both backends: a held `down` is logged without outbox
//! rows, a held recovery clears the hold, and the release opens the
//! request (routed) only for a service still down.

use super::*;
use crate::config::settings::CatalogSettings;
use crate::domain::EventType;
use crate::store::testdb::{self, TestDb, store_tests};
use crate::store::tests::{CONFIG, new_request, shop};

store_tests!(
    a_held_outage_is_logged_without_webhooks_and_its_release_opens_one_request,
    a_held_outage_that_recovered_releases_nothing,
);

/// The test store, with `ops` also receiving `service.*` events.
async fn open() -> (TestDb, Store) {
    let text = CONFIG.replace(
        r#"events = ["request.opened", "request.closed"]"#,
        r#"events = ["request.opened", "request.closed", "service.down", "service.up"]"#,
    );
    let config = crate::config::parse(std::path::Path::new("t.toml"), &text).expect("config");
    let (db, store) = testdb::store(crate::store::EventSettings::from(&config)).await;
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    (db, store)
}

async fn outbox(store: &Store) -> Vec<String> {
    let rows = store
        .due_deliveries("ops", i64::MAX, 100)
        .await
        .expect("outbox");
    rows.into_iter()
        .map(|d| {
            let body: serde_json::Value = serde_json::from_str(&d.body).expect("json");
            body["event"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

async fn a_held_outage_is_logged_without_webhooks_and_its_release_opens_one_request() {
    let (_db, store) = open().await;
    let held = store
        .hold_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("held");
    assert_eq!(held, None, "no request while muted");
    let log = store.events_after(0, 100).await.expect("events");
    assert!(log.iter().any(|e| e.event_type == EventType::ServiceDown));
    assert!(
        outbox(&store).await.is_empty(),
        "no webhook row while muted"
    );
    let svc = store.get_service(&"shop".into()).await.expect("svc");
    assert_eq!((svc.state, svc.open_request), (ServiceState::Down, None));
    let marked = store.held_services().await.expect("held");
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].equipment, EquipmentId::from("web-1"));

    let opened = store
        .release_held(&"shop".into(), Some(&new_request()))
        .await
        .expect("release")
        .expect("still down: opened");
    assert_eq!(outbox(&store).await, vec!["request.opened".to_owned()]);
    let svc = store.get_service(&"shop".into()).await.expect("svc");
    assert_eq!(svc.open_request, Some(opened.id));
    assert!(store.held_services().await.expect("held").is_empty());
    // Released once: a second release opens nothing.
    let again = store
        .release_held(&"shop".into(), Some(&new_request()))
        .await;
    assert_eq!(again.expect("release"), None);
    assert_eq!(store.list_requests(true).await.expect("list").len(), 1);
}

async fn a_held_outage_that_recovered_releases_nothing() {
    let (_db, store) = open().await;
    store
        .hold_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("held");
    let closed = store
        .hold_up(&shop(ServiceState::Up), true, "note")
        .await
        .expect("up");
    assert_eq!(closed, None);
    assert!(store.held_services().await.expect("held").is_empty());
    let released = store
        .release_held(&"shop".into(), Some(&new_request()))
        .await
        .expect("release");
    assert_eq!(released, None);
    assert!(store.list_requests(false).await.expect("list").is_empty());
    assert!(
        outbox(&store).await.is_empty(),
        "the recovery was muted too"
    );
    let svc = store.get_service(&"shop".into()).await.expect("svc");
    assert_eq!(svc.state, ServiceState::Up);
}
