//! Webhook bodies and basic auth for `request.opened` and `request.closed`.

use picket_e2e::target::Target;
use picket_e2e::{DEADLINE, Delivery, Webhook, WebhookSink, parse_time};
use serde_json::Value;

use crate::common::{
    EQUIPMENT, EQUIPMENT_NAME, SERVICE, assert_starts_with, is_down_with_request, one_service,
    open_request, start,
};

/// Asserts the fields every `request.*` body carries.
fn assert_request_body(d: &Delivery, event: &str, id: i64, url: &str, public_url: &str) {
    let b = &d.body;
    assert!(b.is_object(), "body is not a JSON object: {:?}", d.raw_body);
    assert_eq!(b["event"], event, "{b}");
    assert!(
        b["event_id"].as_str().is_some_and(|s| !s.is_empty()),
        "event_id: {b}"
    );
    assert!(
        parse_time(&b["time"]).is_some(),
        "time is not RFC 3339: {b}"
    );
    assert_eq!(b["id"], id, "id must be the request's integer id: {b}");
    assert_eq!(b["name"], format!("[HTTP KO] {url}"), "{b}");
    assert_eq!(b["kind"], "corrective", "{b}");
    assert_eq!(b["priority"], "2", "priority must be the string \"2\": {b}");
    assert_starts_with(&b["description"], "HTTP 503", "description", b);
    assert_eq!(
        b["equipment"], EQUIPMENT_NAME,
        "equipment must be the equipment's name: {b}"
    );
    assert_eq!(b["equipment_id"], EQUIPMENT, "{b}");
    assert_eq!(b["service"], SERVICE, "{b}");
    assert_eq!(b["url"], url, "{b}");
    assert_starts_with(&b["link"], public_url, "link", b);
    assert!(
        parse_time(&b["opened_at"]).is_some(),
        "opened_at is not RFC 3339: {b}"
    );

    assert_eq!(
        d.basic_auth(),
        Some(("n8n".to_owned(), "s3cret".to_owned())),
        "authorization header: {:?}",
        d.header("authorization")
    );
    assert!(
        d.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "content-type: {:?}",
        d.header("content-type")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_opened_and_closed_bodies_and_basic_auth() -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let target = Target::http().await;
    let url = target.url();
    let config = one_service(&url).webhook(
        Webhook::new("ops", &sink.url())
            .events(&["request.opened", "request.closed"])
            .basic_auth("n8n", "s3cret"),
    );
    let (c, _agent) = start(config, &[]).await?;
    c.wait_state(SERVICE, "up").await?;

    target.set_status(503);
    let down = c
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    let id = open_request(&down);
    let opened = sink.await_delivery("request.opened", DEADLINE).await?;
    assert_request_body(&opened, "request.opened", id, &url, &c.public_url());
    let b = &opened.body;
    assert_eq!(b["stage"], "open", "{b}");
    assert!(b["closed_at"].is_null(), "{b}");
    // The webhook tells what picketctl shows.
    let request = c.request(id).await?;
    for field in ["name", "priority", "description", "opened_at"] {
        assert_eq!(
            parse_or_same(&b[field]),
            parse_or_same(&request[field]),
            "{field} differs: webhook {b} vs picketctl {request}"
        );
    }

    target.set_status(200);
    let closed = sink.await_delivery("request.closed", DEADLINE).await?;
    assert_request_body(&closed, "request.closed", id, &url, &c.public_url());
    let b = &closed.body;
    assert_eq!(b["stage"], "done", "{b}");
    assert_eq!(b["close_reason"], "recovered", "{b}");
    let closed_at =
        parse_time(&b["closed_at"]).unwrap_or_else(|| panic!("closed_at is not RFC 3339: {b}"));
    assert!(
        closed_at >= parse_time(&b["opened_at"]).expect("checked above"),
        "{b}"
    );
    assert_ne!(
        b["event_id"], opened.body["event_id"],
        "two events, one event_id"
    );

    // Only the subscribed events were sent, each about this one request.
    for d in sink.deliveries() {
        assert!(
            matches!(d.event(), Some("request.opened" | "request.closed")),
            "an event the webhook did not subscribe to: {}",
            d.raw_body
        );
        assert_eq!(d.body["id"], id, "{}", d.raw_body);
    }
    Ok(())
}

/// Times compare as instants (the same time may be written two ways).
fn parse_or_same(value: &Value) -> Value {
    match parse_time(value) {
        Some(t) => Value::from(format!("{t:?}")),
        None => value.clone(),
    }
}
