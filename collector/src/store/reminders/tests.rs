//! Acknowledgements and reminders on both engines.

use super::super::tests::{CONFIG, new_request, shop};
use crate::config::settings::CatalogSettings;
use crate::domain::RequestId;
use crate::domain::{EventType, ServiceState};
use crate::store::testdb::{TestDb, store_tests};
use crate::store::{EventSettings, Opened, Store, StoreError};

store_tests!(
    an_ack_records_who_when_the_note_and_its_event,
    a_second_ack_or_an_ack_of_a_closed_request_is_refused_by_name,
    reminders_are_counted_per_cadence_and_routed,
    acked_and_closed_requests_get_no_reminder,
);

/// `ops` takes every event, `pager` only `request.opened`.
async fn open() -> (TestDb, Store) {
    let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    let routes = vec![
        ("ops".to_owned(), vec![]),
        ("pager".to_owned(), vec![EventType::RequestOpened]),
    ];
    let events = EventSettings::new(routes, "http://picket.test".into());
    let (db, store) = crate::store::testdb::store(events).await;
    store
        .sync_config(&CatalogSettings::from(&config))
        .await
        .expect("sync");
    (db, store)
}

async fn down(store: &Store) -> RequestId {
    match store
        .service_down(&shop(ServiceState::Down), &new_request())
        .await
        .expect("down")
    {
        Opened::New(req) => req.id,
        Opened::Existing(id) => id,
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json")
}

/// An ack stamps `acknowledged_at`/`_by`, adds the note by the acker and
/// writes `request.acknowledged` with those fields (to its subscribers).
async fn an_ack_records_who_when_the_note_and_its_event() {
    let (_db, store) = open().await;
    let id = down(&store).await;
    let acked = store
        .acknowledge_request(id, "alice", Some("on it"))
        .await
        .expect("acked");
    assert_eq!(acked.acknowledged_by.as_deref(), Some("alice"));
    assert!(acked.acknowledged_ms.is_some());
    let note = acked.notes.last().expect("a note");
    assert_eq!(
        (note.author.as_str(), note.text.as_str()),
        ("alice", "on it")
    );
    assert_eq!(store.get_request(id).await.expect("get"), acked);
    let events = store.events_after(0, 100).await.expect("events");
    let last = events.last().expect("event");
    assert_eq!(last.event_type, EventType::RequestAcknowledged);
    let body = json(&last.payload);
    assert_eq!(body["acknowledged_by"], "alice");
    assert!(body["acknowledged_at"].is_string());
    let ops = store
        .due_deliveries("ops", i64::MAX, 100)
        .await
        .expect("due");
    assert_eq!(
        json(&ops.last().expect("row").body)["event"],
        "request.acknowledged"
    );
    let pager = store
        .due_deliveries("pager", i64::MAX, 100)
        .await
        .expect("due");
    assert_eq!(pager.len(), 1, "pager takes request.opened only");
    let without = store
        .acknowledge_request(down_other(&store).await, "bob", None)
        .await;
    assert!(
        without.expect("acked").notes.is_empty(),
        "no note without one"
    );
}

/// A second request, on an agent (so that it is another subject).
async fn down_other(store: &Store) -> RequestId {
    let agent = super::super::tests::agent_row("a1");
    store.register_agent(&agent).await.expect("agent");
    store
        .agent_down(&agent, &new_request())
        .await
        .expect("agent down")
        .expect("opened")
}

/// A second ack names who acked and when; a closed request names its
/// state; an unknown id is not found.
async fn a_second_ack_or_an_ack_of_a_closed_request_is_refused_by_name() {
    let (_db, store) = open().await;
    let id = down(&store).await;
    store
        .acknowledge_request(id, "alice", None)
        .await
        .expect("acked");
    let again = store.acknowledge_request(id, "bob", None).await;
    let Err(e @ StoreError::NotAcknowledgeable { .. }) = again else {
        panic!("a second ack must be refused: {again:?}")
    };
    let text = e.to_string();
    assert!(
        text.contains("already acknowledged by alice at 20"),
        "{text}"
    );
    store
        .close_request_by_hand(id, "done")
        .await
        .expect("closed");
    let closed = store.acknowledge_request(id, "bob", None).await;
    let Err(e @ StoreError::NotAcknowledgeable { .. }) = closed else {
        panic!("an ack of a closed request must be refused: {closed:?}")
    };
    assert!(e.to_string().contains("it is closed (manual"), "{e}");
    let unknown = store.acknowledge_request(9999.into(), "bob", None).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

/// Each cadence counts on its own; the event carries `reminder` and
/// `open_for`; a webhook's own reminder reaches only it; a stale count
/// sends nothing (a second sender loses).
async fn reminders_are_counted_per_cadence_and_routed() {
    let (_db, store) = open().await;
    let id = down(&store).await;
    let c = store.reminder_candidates().await.expect("candidates");
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].id, c[0].reminded.len()), (id, 0));
    assert_eq!(c[0].service_id.as_ref().map(|s| s.as_str()), Some("shop"));
    assert_eq!(store.send_reminder(id, None, 0).await.expect("1"), Some(1));
    assert_eq!(store.send_reminder(id, None, 0).await.expect("stale"), None);
    assert_eq!(store.send_reminder(id, None, 1).await.expect("2"), Some(2));
    assert_eq!(
        store.send_reminder(id, Some("pager"), 0).await.expect("p"),
        Some(1)
    );
    let c = store.reminder_candidates().await.expect("candidates");
    assert_eq!(c[0].of(None).map(|r| r.sent), Some(2));
    assert_eq!(c[0].of(Some("pager")).map(|r| r.sent), Some(1));
    let events = store.events_after(0, 100).await.expect("events");
    let reminders: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == EventType::RequestReminder)
        .map(|e| json(&e.payload))
        .collect();
    assert_eq!(reminders.len(), 3);
    assert_eq!(reminders[1]["reminder"], 2);
    assert_eq!(reminders[1]["id"], id.get());
    assert!(reminders[1]["open_for"].is_i64());
    assert_eq!(reminders[1]["name"], "[HTTP KO] http://shop.test");
    let pager = store
        .due_deliveries("pager", i64::MAX, 100)
        .await
        .expect("due");
    let kinds: Vec<_> = pager
        .iter()
        .map(|d| json(&d.body)["event"].clone())
        .collect();
    assert_eq!(
        kinds,
        ["request.opened", "request.reminder"],
        "its own only"
    );
    let ops = store
        .due_deliveries("ops", i64::MAX, 100)
        .await
        .expect("due");
    let ops_reminders = ops
        .iter()
        .filter(|d| json(&d.body)["event"] == "request.reminder")
        .count();
    assert_eq!(ops_reminders, 2, "not pager's own reminder");
    let ids: std::collections::HashSet<_> = ops.iter().map(|d| d.msg_id.clone()).collect();
    assert_eq!(ids.len(), ops.len(), "a fresh webhook-id per reminder");
}

/// An acknowledged or closed request is no candidate and gets nothing.
async fn acked_and_closed_requests_get_no_reminder() {
    let (_db, store) = open().await;
    let id = down(&store).await;
    store
        .acknowledge_request(id, "alice", None)
        .await
        .expect("acked");
    assert!(store.reminder_candidates().await.expect("c").is_empty());
    assert_eq!(store.send_reminder(id, None, 0).await.expect("acked"), None);
    let other = down_other(&store).await;
    store
        .close_request_by_hand(other, "done")
        .await
        .expect("closed");
    assert!(store.reminder_candidates().await.expect("c").is_empty());
    assert_eq!(
        store.send_reminder(other, None, 0).await.expect("closed"),
        None
    );
}
