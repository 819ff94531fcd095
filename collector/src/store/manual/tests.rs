//! Manual closes and notes, and paused services' rows, on a real SQLite file.

use std::path::Path;
use std::time::Duration;

use super::super::tests::{CONFIG, agent_row, new_request, open, shop};
use crate::config::settings::CatalogSettings;
use crate::domain::{CloseReason, EventType, Liveness, ServiceState, Stage, texts};
use crate::store::testdb::store_tests;
use crate::store::{Opened, StoreError};

store_tests!(
    a_manual_close_writes_its_note_link_and_event_together,
    notes_are_added_to_open_and_closed_requests,
    a_paused_service_stays_listed_with_its_request_open,
    an_agent_closed_by_hand_stays_dead_until_heard_from,
);

/// Closing by hand writes the stage, the reason, the note by `admin`, the
/// cleared link and `request.closed` (with its outbox row) together; a
/// second close is refused by name, an unknown id is not found.
async fn a_manual_close_writes_its_note_link_and_event_together() {
    let (_dir, store, _) = open().await;
    let Opened::New(req) = store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down")
    else {
        panic!("opens")
    };
    let before = store.events_after(0, 100).await.expect("events").len();
    let closed = store
        .close_request_by_hand(req.id, "disk replaced")
        .await
        .expect("closed");
    assert_eq!(
        (closed.stage, closed.close_reason),
        (Stage::Done, Some(CloseReason::Manual))
    );
    let note = closed.notes.last().expect("a note");
    assert_eq!(
        (note.author.as_str(), note.text.as_str()),
        ("admin", "disk replaced")
    );
    let svc = store.get_service(&"shop".into()).await.expect("svc");
    assert_eq!(svc.open_request, None, "the service's link is cleared");
    assert_eq!(
        svc.state,
        ServiceState::Down,
        "the state is the evaluator's"
    );
    let events = store.events_after(0, 100).await.expect("events");
    assert_eq!(events.len(), before + 1);
    let last = events.last().expect("an event");
    assert_eq!(last.event_type, EventType::RequestClosed);
    let body: serde_json::Value = serde_json::from_str(&last.payload).expect("json");
    assert_eq!(
        (&body["id"], &body["close_reason"], &body["stage"]),
        (
            &serde_json::json!(req.id.get()),
            &serde_json::json!("manual"),
            &serde_json::json!("done")
        )
    );
    let due = store
        .due_deliveries("ops", i64::MAX, 100)
        .await
        .expect("due");
    assert!(
        due.iter().any(|d| d.body == last.payload),
        "the webhook row is written with the event"
    );
    let again = store.close_request_by_hand(req.id, "again").await;
    assert!(
        matches!(again, Err(StoreError::AlreadyClosed(id)) if id == req.id),
        "{again:?}"
    );
    assert_eq!(
        store.get_request(req.id).await.expect("get").notes.len(),
        1,
        "a refused close writes nothing"
    );
    let unknown = store.close_request_by_hand(999.into(), "x").await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// Notes by `admin` go on open and closed requests alike, in order.
async fn notes_are_added_to_open_and_closed_requests() {
    let (_dir, store, _) = open().await;
    let Opened::New(req) = store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down")
    else {
        panic!("opens")
    };
    let noted = store
        .add_request_note(req.id, "looking at it")
        .await
        .expect("note");
    assert_eq!(noted.stage, Stage::Open);
    store
        .close_request_by_hand(req.id, texts::MANUAL_CLOSE_NOTE)
        .await
        .expect("closed");
    let noted = store
        .add_request_note(req.id, "root cause: full disk")
        .await
        .expect("note on a closed request");
    let notes: Vec<(&str, &str)> = noted
        .notes
        .iter()
        .map(|n| (n.author.as_str(), n.text.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            ("admin", "looking at it"),
            ("admin", "closed by hand"),
            ("admin", "root cause: full disk")
        ]
    );
    let unknown = store.add_request_note(999.into(), "x").await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// `active = false` keeps the service listed and its request open; only
/// leaving the file closes it (`removed`).
async fn a_paused_service_stays_listed_with_its_request_open() {
    let (_dir, store, _) = open().await;
    let Opened::New(req) = store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down")
    else {
        panic!("opens")
    };
    let paused = CONFIG.replace(
        "url = \"http://shop.test\"\n",
        "url = \"http://shop.test\"\nactive = false\n",
    );
    let config = crate::config::parse(Path::new("t.toml"), &paused).expect("config");
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    let listed = store.list_services().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|s| (s.id.as_str(), s.active, s.open_request))
            .collect::<Vec<_>>(),
        [("shop", false, Some(req.id))]
    );
    assert_eq!(
        store.get_request(req.id).await.expect("get").stage,
        Stage::Open,
        "a paused service keeps its request"
    );
    let removed = CONFIG.replace(
        "[[services]]\nid = \"shop\"\nequipment = \"web-1\"\nurl = \"http://shop.test\"\n",
        "",
    );
    let config = crate::config::parse(Path::new("t.toml"), &removed).expect("config");
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    assert!(store.list_services().await.expect("list").is_empty());
    assert_eq!(
        store.get_request(req.id).await.expect("get").close_reason,
        Some(CloseReason::Removed)
    );
}

/// An agent whose `[AGENT DOWN]` request was closed by hand counts as
/// still dead until it is heard from after the request opened.
async fn an_agent_closed_by_hand_stays_dead_until_heard_from() {
    let (_dir, store, _) = open().await;
    let mut a = agent_row("a1");
    let silent = texts::agent_down_request(&a.snapshot(Liveness::Dead), Duration::from_secs(10), 3);
    store.register_agent(&a).await.expect("register");
    let id = store
        .agent_down(&a, &silent)
        .await
        .expect("down")
        .expect("opened");
    assert!(
        store
            .agents_closed_by_hand_while_dead()
            .await
            .expect("held")
            .is_empty()
    );
    store
        .close_request_by_hand(id, "known outage")
        .await
        .expect("closed");
    assert_eq!(
        store
            .agents_closed_by_hand_while_dead()
            .await
            .expect("held"),
        ["a1"]
    );
    let opened_ms = store.get_request(id).await.expect("get").opened_ms;
    a.last_seen_ms = Some(opened_ms + 1);
    store.agent_connected(&a).await.expect("heard");
    assert!(
        store
            .agents_closed_by_hand_while_dead()
            .await
            .expect("held")
            .is_empty(),
        "heard from since: it may die again"
    );
}
