//! Keyset pages against a real SQLite file: walking the pages shows every
//! row exactly once in order, filters hold on every page, and a row
//! inserted between two pages neither repeats nor hides an earlier row.

use super::*;
use crate::store::testdb::{self, TestDb, store_tests};
use crate::store::{Cursor, DeliveryFilter, EventSettings, PageFilter};

store_tests!(
    request_pages_cover_every_request_once_in_order_with_filters,
    a_request_opened_between_pages_comes_last_and_repeats_nothing,
    agent_pages_follow_region_name_id_with_filters_and_inserts,
    delivery_pages_go_newest_first_and_a_new_delivery_does_not_repeat_rows,
    service_pages_by_key_cover_every_service_once_with_filters_and_inserts,
);

async fn open() -> (TestDb, Store) {
    testdb::store(EventSettings::default()).await
}

async fn sql(store: &Store, statement: String) {
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&store.write)
        .await
        .expect("insert");
}

/// Request `i`: open when `i % 3 == 0`, of service `s{i % 4}` and
/// equipment `e{i % 2}`, with a note when `i % 5 == 0`.
async fn add_request(store: &Store, i: i64) {
    let stage = if i % 3 == 0 { "open" } else { "done" };
    // One open request per service at most: open ones get their own service.
    let service = if stage == "open" {
        format!("open{i}")
    } else {
        format!("s{}", i % 4)
    };
    sql(store, format!(
        "INSERT INTO requests (id, name, kind, priority, description, stage, service_id, equipment_id, opened_ms) \
         VALUES ({i}, 'r{i}', 'corrective', 'P3', '', '{stage}', '{service}', 'e{}', {i})", i % 2
    ))
    .await;
    if i % 5 == 0 {
        sql(store, format!(
            "INSERT INTO request_notes (request_id, author, time_ms, text) VALUES ({i}, 'admin', 1, 'n{i}')"
        ))
        .await;
    }
}

/// Every request page of `filter` by `size`, as ids, with notes checked.
async fn walk_requests(store: &Store, filter: &RequestFilter, size: usize) -> Vec<i64> {
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let mut page = store.request_page(filter, after, size + 1).await.unwrap();
        let more = page.len() > size;
        page.truncate(size);
        for r in &page {
            let expected = if r.id.get() % 5 == 0 { 1 } else { 0 };
            assert_eq!(r.notes.len(), expected, "notes of {}", r.id.get());
        }
        seen.extend(page.iter().map(|r| r.id.get()));
        if !more {
            return seen;
        }
        after = page.last().map(|r| r.id);
    }
}

async fn request_pages_cover_every_request_once_in_order_with_filters() {
    let (_dir, store) = open().await;
    for i in 1..=23 {
        add_request(&store, i).await;
    }
    let all = RequestFilter::default();
    assert_eq!(
        walk_requests(&store, &all, 5).await,
        (1..=23).collect::<Vec<_>>()
    );
    let open = RequestFilter {
        open_only: true,
        ..all.clone()
    };
    assert_eq!(
        walk_requests(&store, &open, 2).await,
        [3, 6, 9, 12, 15, 18, 21]
    );
    let service = RequestFilter {
        service: Some("s1".into()),
        ..all.clone()
    };
    assert_eq!(walk_requests(&store, &service, 2).await, [1, 5, 13, 17]);
    let equipment = RequestFilter {
        equipment: Some("e0".into()),
        open_only: true,
        ..all
    };
    assert_eq!(walk_requests(&store, &equipment, 1).await, [6, 12, 18]);
}

async fn a_request_opened_between_pages_comes_last_and_repeats_nothing() {
    let (_dir, store) = open().await;
    for i in [2, 4, 6, 8] {
        add_request(&store, i).await;
    }
    let all = RequestFilter::default();
    let first = store.request_page(&all, None, 2).await.unwrap();
    // An id below the cursor cannot appear (ids grow); one above it can.
    add_request(&store, 9).await;
    let rest = store
        .request_page(&all, first.last().map(|r| r.id), 10)
        .await
        .unwrap();
    let ids: Vec<i64> = first.iter().chain(&rest).map(|r| r.id.get()).collect();
    assert_eq!(ids, [2, 4, 6, 8, 9]);
}

async fn add_agent(store: &Store, id: &str, name: &str, region: &str, state: &str) {
    sql(store, format!(
        "INSERT INTO agents (id, name, region, state, created_ms) VALUES ('{id}', '{name}', '{region}', '{state}', 0)"
    ))
    .await;
}

async fn walk_agents(store: &Store, filter: &AgentFilter, size: usize) -> Vec<String> {
    let (mut seen, mut after) = (Vec::new(), None::<AgentKey>);
    loop {
        let mut page = store
            .agent_page(filter, after.as_ref(), size + 1)
            .await
            .unwrap();
        let more = page.len() > size;
        page.truncate(size);
        seen.extend(page.iter().map(|a| a.id.to_string()));
        if !more {
            return seen;
        }
        after = page.last().map(AgentKey::of);
    }
}

async fn agent_pages_follow_region_name_id_with_filters_and_inserts() {
    let (_dir, store) = open().await;
    // Two agents share a name in "eu": the id breaks the tie.
    for (id, name, region, state) in [
        ("a1", "edge", "eu", "active"),
        ("a0", "edge", "eu", "new"),
        ("a2", "alpha", "eu", "active"),
        ("a3", "zed", "ap", "suspended"),
        ("a4", "beta", "us", "active"),
    ] {
        add_agent(&store, id, name, region, state).await;
    }
    let all = AgentFilter::default();
    assert_eq!(
        walk_agents(&store, &all, 2).await,
        ["a3", "a2", "a0", "a1", "a4"]
    );
    let eu = AgentFilter {
        region: Some("eu".into()),
        ..all.clone()
    };
    assert_eq!(walk_agents(&store, &eu, 1).await, ["a2", "a0", "a1"]);
    let active = AgentFilter {
        state: Some(AgentState::Active),
        ..all.clone()
    };
    assert_eq!(walk_agents(&store, &active, 1).await, ["a2", "a1", "a4"]);

    // An agent registering between pages, before the cursor, is not
    // shown; after it, it is; nothing repeats.
    let first = store.agent_page(&all, None, 3).await.unwrap();
    add_agent(&store, "b0", "aaa", "ap", "new").await;
    add_agent(&store, "b1", "zzz", "us", "new").await;
    let rest = store
        .agent_page(&all, first.last().map(AgentKey::of).as_ref(), 10)
        .await
        .unwrap();
    let ids: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|a| a.id.to_string())
        .collect();
    assert_eq!(ids, ["a3", "a2", "a0", "a1", "a4", "b1"]);
}

async fn delivery_pages_go_newest_first_and_a_new_delivery_does_not_repeat_rows() {
    let (_dir, store) = open().await;
    let add = |id: i64| {
        let (hook, error) = if id % 2 == 0 {
            ("chat", "NULL")
        } else {
            ("pager", "'HTTP 500'")
        };
        format!(
            "INSERT INTO webhook_outbox (id, webhook, event_seq, msg_id, body, next_attempt_ms, last_error) \
             VALUES ({id}, '{hook}', {id}, 'm{id}', '{{}}', 0, {error})"
        )
    };
    for id in 1..=7 {
        sql(&store, add(id)).await;
    }
    let walk = |filter: DeliveryFilter, size: i64| {
        let store = store.clone();
        async move {
            let (mut seen, mut before) = (Vec::new(), None);
            loop {
                let mut page = store
                    .delivery_page(&filter, before, size + 1)
                    .await
                    .unwrap();
                let more = page.len() as i64 > size;
                page.truncate(size as usize);
                seen.extend(page.iter().map(|d| d.id));
                if !more {
                    return seen;
                }
                before = page.last().map(|d| d.id);
            }
        }
    };
    assert_eq!(
        walk(DeliveryFilter::default(), 3).await,
        [7, 6, 5, 4, 3, 2, 1]
    );
    let failed = DeliveryFilter {
        failed_only: true,
        webhook: None,
    };
    assert_eq!(walk(failed, 2).await, [7, 5, 3, 1]);
    let chat = DeliveryFilter {
        failed_only: false,
        webhook: Some("chat".into()),
    };
    assert_eq!(walk(chat, 2).await, [6, 4, 2]);

    let all = DeliveryFilter::default();
    let first = store.delivery_page(&all, None, 3).await.unwrap();
    sql(&store, add(8)).await;
    let rest = store
        .delivery_page(&all, first.last().map(|d| d.id), 10)
        .await
        .unwrap();
    let ids: Vec<i64> = first.iter().chain(&rest).map(|d| d.id).collect();
    assert_eq!(
        ids,
        [7, 6, 5, 4, 3, 2, 1],
        "the new delivery belongs before page 1"
    );
}

async fn add_service(store: &Store, id: &str, equipment: &str, state: &str) {
    sql(
        store,
        format!(
            "INSERT INTO services (id, url, equipment_id, state, configured) \
         VALUES ('{id}', 'http://{id}.test', '{equipment}', '{state}', 1)"
        ),
    )
    .await;
}

/// The API's service pages: [`Cursor::AfterKey`] from the last row shown.
async fn walk_services(store: &Store, filter: &PageFilter, size: usize) -> Vec<String> {
    let (mut seen, mut cursor) = (Vec::new(), Cursor::First);
    loop {
        let page = store.service_page(filter, &cursor, size).await.unwrap();
        seen.extend(page.services.iter().map(|s| s.row.id.to_string()));
        let Some(last) = page.services.last().filter(|_| page.has_next) else {
            return seen;
        };
        cursor = Cursor::AfterKey(last.row.equipment_id.clone(), last.row.id.clone());
    }
}

async fn service_pages_by_key_cover_every_service_once_with_filters_and_inserts() {
    let (_dir, store) = open().await;
    for i in 0..10 {
        let state = if i % 2 == 0 { "up" } else { "down" };
        add_service(&store, &format!("s{i}"), &format!("e{}", i % 3), state).await;
    }
    let all = PageFilter::default();
    let order = ["s0", "s3", "s6", "s9", "s1", "s4", "s7", "s2", "s5", "s8"];
    assert_eq!(walk_services(&store, &all, 3).await, order);
    let up = PageFilter {
        state: Some(crate::domain::ServiceState::Up),
        ..all.clone()
    };
    assert_eq!(
        walk_services(&store, &up, 2).await,
        ["s0", "s6", "s4", "s2", "s8"]
    );
    let e1 = PageFilter {
        equipment: Some("e1".into()),
        ..all.clone()
    };
    assert_eq!(walk_services(&store, &e1, 1).await, ["s1", "s4", "s7"]);

    // The cursor is a key, not a row: a service added before it stays
    // out of later pages, one after it comes in order.
    let first = store.service_page(&all, &Cursor::First, 4).await.unwrap();
    add_service(&store, "s00", "e0", "up").await;
    add_service(&store, "s10", "e1", "up").await;
    let last = first.services.last().unwrap();
    let key = Cursor::AfterKey(last.row.equipment_id.clone(), last.row.id.clone());
    let rest = store.service_page(&all, &key, 20).await.unwrap();
    let ids: Vec<String> = first
        .services
        .iter()
        .chain(&rest.services)
        .map(|s| s.row.id.to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "s0", "s3", "s6", "s9", "s1", "s10", "s4", "s7", "s2", "s5", "s8"
        ]
    );
}
