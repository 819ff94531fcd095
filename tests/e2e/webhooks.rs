//! Webhook bodies and basic auth for `request.opened` and `request.closed`;
//! redirects not followed, and the `webhooks` / `deliveries` listings.

use picket_e2e::target::Target;
use picket_e2e::{
    Collector, Config, DEADLINE, Delivery, Reply, Webhook, WebhookSink, parse_time, wait_until,
};
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

/// A receiver answering 302 is not followed: the attempt counts as failed,
/// with the `Location` in its last error, retried on schedule, and the
/// redirect target never hears from the collector. `picketctl webhooks`
/// and `picketctl deliveries [--failed] [--webhook NAME]` show it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_picketctl_lists_deliveries() -> anyhow::Result<()> {
    let (moved, elsewhere, ops) = (
        WebhookSink::start().await?,
        WebhookSink::start().await?,
        WebhookSink::start().await?,
    );
    let location = elsewhere.url();
    moved.script([Reply::status(302).header("Location", &location)]);
    let events = ["maintenance.started"];
    let config = Config::fast()
        .equipment(EQUIPMENT, EQUIPMENT_NAME)
        .webhook(
            Webhook::new("moved", &moved.url())
                .events(&events)
                .set("retry_initial", "1h"),
        )
        .webhook(Webhook::new("ops", &format!("{}?token=s3cret", ops.url())).events(&events));
    let c = Collector::start(config).await?;
    c.ctl(&["maintenance", "start", EQUIPMENT]).await?;
    ops.await_delivery("maintenance.started", DEADLINE).await?;
    moved
        .await_delivery("maintenance.started", DEADLINE)
        .await?;

    let failed = wait_until(
        DEADLINE,
        "the 302 recorded as a failed attempt",
        async || {
            let rows = c.ctl(&["deliveries", "--failed"]).await?;
            let rows = rows.as_array().cloned().unwrap_or_default();
            anyhow::Ok(rows.into_iter().next())
        },
    )
    .await?;
    assert_eq!(failed["webhook"], "moved", "{failed}");
    assert_eq!(failed["event"], "maintenance.started", "{failed}");
    assert_eq!(failed["state"], "pending", "retried on schedule: {failed}");
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert_eq!(
        failed["last_error"],
        format!("HTTP 302 redirect to {location} (not followed)"),
        "{failed}"
    );
    assert!(parse_time(&failed["next_attempt_at"]).is_some(), "{failed}");
    assert_eq!(elsewhere.hits(), 0, "the redirect was followed");

    let delivered = wait_until(DEADLINE, "ops' delivery recorded", async || {
        let rows = c.ctl(&["deliveries", "--webhook", "ops"]).await?;
        let rows = rows.as_array().cloned().unwrap_or_default();
        anyhow::Ok((rows.len() == 1 && rows[0]["state"] == "delivered").then_some(rows))
    })
    .await?;
    let d = &delivered[0];
    assert_eq!(d["attempts"], 1, "{d}");
    assert!(
        d["last_error"].is_null() && parse_time(&d["delivered_at"]).is_some(),
        "{d}"
    );
    assert_eq!(d["webhook_id"], ops.deliveries()[0].body["event_id"], "{d}");

    let webhooks = c.ctl(&["webhooks"]).await?;
    let by_name = |name: &str| {
        webhooks
            .as_array()
            .and_then(|all| all.iter().find(|w| w["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} not listed: {webhooks}"))
    };
    let (m, o) = (by_name("moved"), by_name("ops"));
    let counts = |w: &Value| {
        (
            w["pending"].clone(),
            w["failed"].clone(),
            w["delivered"].clone(),
        )
    };
    assert_eq!(counts(&m), (1.into(), 0.into(), 0.into()), "{m}");
    assert_eq!(counts(&o), (0.into(), 0.into(), 1.into()), "{o}");
    assert_eq!(
        (&m["disabled"], &m["disabled_reason"]),
        (&false.into(), &Value::Null)
    );
    // The origin only: the query's token stays out of the answer.
    assert_eq!(o["origin"], format!("http://{}", ops.addr()), "{o}");

    let table = c.ctl_raw(&["webhooks"]).await?;
    let header = table.stdout.lines().next().unwrap_or_default();
    let columns: Vec<&str> = header.split_whitespace().take(4).collect();
    assert_eq!(
        columns,
        ["NAME", "PENDING", "FAILED", "DELIVERED"],
        "{}",
        table.stdout
    );
    assert!(!table.stdout.contains("s3cret"), "{}", table.stdout);
    let table = c.ctl_raw(&["deliveries", "--failed"]).await?;
    assert!(table.stdout.contains("redirect to"), "{}", table.stdout);
    let unknown = c.ctl_raw(&["deliveries", "--webhook", "nope"]).await?;
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(
        unknown.stderr.contains("webhook nope not found"),
        "{unknown:?}"
    );
    Ok(())
}
