//! The heartbeats' store calls on both engines: sync, registration, token
//! lookup, one `[NO CHECK-IN]` request at a time, the clone flag.

use std::time::Duration;

use super::tests::open;
use super::*;
use crate::config::HeartbeatConfig;
use crate::domain::{
    CloseReason, HeartbeatId, HeartbeatLiveness, HeartbeatState, RequestKind, Stage, texts,
};
use crate::store::testdb::store_tests;

store_tests!(
    configured_heartbeats_sync_and_a_removed_one_closes_its_request,
    a_missed_check_in_opens_one_request_and_a_ping_closes_it_with_a_note,
    registered_heartbeats_start_new_are_found_by_token_hash_and_approved,
    cloned_is_flagged_once_until_a_new_token,
);

fn backup() -> HeartbeatConfig {
    HeartbeatConfig {
        id: "backup".into(),
        name: "nightly backup".into(),
        period: Duration::from_secs(3600),
        grace: Duration::from_secs(60),
        equipment: Some("web-1".into()),
        priority: "1".into(),
    }
}

fn request_for(h: &HeartbeatRow) -> crate::domain::NewRequest {
    texts::checkin_request(&texts::Silent {
        id: &h.id,
        name: &h.name,
        period: Duration::from_millis(h.period_ms as u64),
        grace: Duration::from_millis(h.grace_ms as u64),
        last_ping_ms: h.last_ping_ms,
        since_ms: h.created_ms,
        equipment: h.equipment_id.as_ref(),
        priority: &h.priority,
    })
}

async fn types(store: &Store) -> Vec<String> {
    store
        .events_after(0, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

async fn row(store: &Store, id: &str) -> HeartbeatRow {
    store
        .get_heartbeat(&HeartbeatId::from(id))
        .await
        .expect("get")
        .expect("stored")
}

async fn configured_heartbeats_sync_and_a_removed_one_closes_its_request() {
    let (_db, store, _) = open().await;
    store.sync_heartbeats(&[backup()]).await.expect("sync");
    let h = row(&store, "backup").await;
    assert_eq!(
        (h.state, h.configured, h.period_ms, h.liveness()),
        (
            HeartbeatState::Active,
            true,
            3_600_000,
            HeartbeatLiveness::Waiting
        )
    );
    let changed = HeartbeatConfig {
        period: Duration::from_secs(60),
        ..backup()
    };
    store.sync_heartbeats(&[changed]).await.expect("resync");
    assert_eq!(row(&store, "backup").await.period_ms, 60_000, "updated");
    let id = store
        .heartbeat_missed(&h, &request_for(&h))
        .await
        .expect("missed")
        .expect("opened");
    store.sync_heartbeats(&[]).await.expect("removed");
    assert_eq!(store.get_heartbeat(&h.id).await.expect("get"), None);
    let req = store.get_request(id).await.expect("request");
    assert_eq!(
        (req.stage, req.close_reason),
        (Stage::Done, Some(CloseReason::Removed))
    );
    assert_eq!(req.notes[0].text, texts::HEARTBEAT_REMOVED_NOTE);
}

async fn a_missed_check_in_opens_one_request_and_a_ping_closes_it_with_a_note() {
    let (_db, store, _) = open().await;
    store.sync_heartbeats(&[backup()]).await.expect("sync");
    let h = row(&store, "backup").await;
    let id = store
        .heartbeat_missed(&h, &request_for(&h))
        .await
        .expect("missed")
        .expect("opened");
    assert_eq!(
        store
            .heartbeat_missed(&h, &request_for(&h))
            .await
            .expect("again"),
        None,
        "never a duplicate"
    );
    let late = row(&store, "backup").await;
    assert_eq!(
        (late.liveness(), late.open_request),
        (HeartbeatLiveness::Late, Some(id))
    );
    let req = store.get_request(id).await.expect("request");
    assert_eq!(
        (req.name.as_str(), req.kind, req.priority.as_str()),
        ("[NO CHECK-IN] nightly backup", RequestKind::Checkin, "1")
    );
    assert_eq!(req.equipment_id, Some("web-1".into()));
    // The partial unique index refuses a second open request outright.
    let second = sqlx::query(
        "INSERT INTO requests (name, kind, priority, description, stage, opened_ms, heartbeat_id) \
         VALUES ('x', 'checkin', '2', '', 'open', 0, 'backup')",
    )
    .execute(&store.write)
    .await;
    assert!(second.is_err(), "one open request per heartbeat");
    let ping = Ping {
        time_ms: 5_000,
        source: "10.0.0.1".into(),
        stats: Some(r#"{"disk":"90%"}"#.into()),
    };
    let closed = store
        .heartbeat_pinged(&late, &ping, Some("back"))
        .await
        .expect("ping");
    assert_eq!(closed, Some(id));
    let ok = row(&store, "backup").await;
    assert_eq!(
        (ok.liveness(), ok.open_request, ok.last_source.as_deref()),
        (HeartbeatLiveness::Ok, None, Some("10.0.0.1"))
    );
    assert_eq!(ok.last_stats.as_deref(), Some(r#"{"disk":"90%"}"#));
    let req = store.get_request(id).await.expect("request");
    assert_eq!(
        (req.stage, req.close_reason, req.notes[0].text.as_str()),
        (Stage::Done, Some(CloseReason::Recovered), "back")
    );
    assert_eq!(
        types(&store).await,
        [
            "heartbeat.missed",
            "request.opened",
            "heartbeat.resumed",
            "request.closed"
        ]
    );
}

async fn registered_heartbeats_start_new_are_found_by_token_hash_and_approved() {
    let (_db, store, _) = open().await;
    let new = NewHeartbeat {
        id: "hb-1".into(),
        name: "customer 42".into(),
        period_ms: 300_000,
        grace_ms: 60_000,
        token_hash: "h1".into(),
    };
    let h = store.register_heartbeat(&new).await.expect("register");
    assert_eq!((h.state, h.configured), (HeartbeatState::New, false));
    let found = store.heartbeat_by_token("h1").await.expect("lookup");
    assert_eq!(found.map(|f| f.id), Some("hb-1".into()));
    assert_eq!(store.heartbeat_by_token("h2").await.expect("lookup"), None);
    let active = store
        .set_heartbeat_state(&h.id, HeartbeatState::Active)
        .await
        .expect("approve")
        .expect("known");
    assert_eq!(active.state, HeartbeatState::Active);
    assert!(active.watch_from_ms.is_some(), "its deadline starts now");
    assert!(store.set_heartbeat_token(&h.id, "h2").await.expect("token"));
    assert_eq!(store.heartbeat_by_token("h1").await.expect("old"), None);
    let page = store
        .list_heartbeats(Some(HeartbeatState::Active), None, 10)
        .await
        .expect("list");
    assert_eq!(page.len(), 1);
    assert!(
        store
            .list_heartbeats(Some(HeartbeatState::New), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store.heartbeat_counts().await.expect("counts"),
        [(HeartbeatState::Active, 1)]
    );
    assert_eq!(
        types(&store).await,
        ["heartbeat.registered", "heartbeat.approved"]
    );
}

async fn cloned_is_flagged_once_until_a_new_token() {
    let (_db, store, _) = open().await;
    store.sync_heartbeats(&[backup()]).await.expect("sync");
    let h = row(&store, "backup").await;
    let sources = vec!["10.0.0.1".to_owned(), "10.0.0.2".to_owned()];
    assert!(store.heartbeat_cloned(&h, &sources).await.expect("flag"));
    assert!(!store.heartbeat_cloned(&h, &sources).await.expect("again"));
    let flagged = row(&store, "backup").await;
    assert_eq!((flagged.cloned, &flagged.cloned_sources), (true, &sources));
    assert!(
        store
            .set_heartbeat_token(&h.id, "new")
            .await
            .expect("token")
    );
    let cleared = row(&store, "backup").await;
    assert_eq!((cleared.cloned, cleared.cloned_sources.len()), (false, 0));
    assert_eq!(types(&store).await, ["heartbeat.cloned"]);
}
