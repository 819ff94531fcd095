//! `mute` maintenance windows: the equipment's services are still probed
//! and their states recorded, but no request opens and no webhook row is
//! made while the window runs; when it ends, a service still down opens
//! its request then, and one that recovered during the window opens
//! nothing. (`pause` windows: `maintenance.rs`.)

use std::time::Duration;

use picket_e2e::config::{Service, Webhook};
use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent};
use picket_e2e::{Config, WebhookSink};

use crate::common::{SERVICE, one_equipment, one_service};

const HOUR: Duration = Duration::from_secs(3600);
/// The second service on `web-1`; it sorts before `shop`.
const API: &str = "api";
const EVENTS: &[&str] = &[
    "service.down",
    "service.up",
    "request.opened",
    "request.closed",
];

/// Quiet agents (heartbeats every 2 h) and a receiver `ops` of the
/// service and request events.
fn muted(config: Config, sink: &WebhookSink) -> Config {
    config
        .agents("heartbeat_interval", "2h")
        .webhook(Webhook::new("ops", &sink.url()).events(EVENTS))
}

/// A failure (or recovery) of `services` confirmed by their round, until
/// each shows `state`.
async fn confirm(
    h: &Harness,
    a: &mut ScriptedAgent,
    services: &[&str],
    outcome: &Outcome,
    state: &str,
) -> anyhow::Result<()> {
    for s in services {
        a.report(s, outcome).await?;
    }
    h.advance(Duration::from_secs(2)).await;
    for _ in services {
        let order = a.order().await?;
        a.answer(&order, outcome).await?;
    }
    for s in services {
        h.wait_state(s, state).await?;
    }
    Ok(())
}

/// The event types of `ops`'s outbox rows, oldest first.
async fn delivered(h: &Harness) -> anyhow::Result<Vec<(String, String)>> {
    let mut rows = h.deliveries("ops").await?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|d| (d.event_type, d.subject))
        .collect())
}

/// The hidden failure mode: during a mute window `api` and `shop` go
/// down (no request, no webhook row, but their state and `service.down`
/// are recorded and the probes go on); `api` recovers before the end and
/// opens nothing; `shop` is still down when the window ends by itself
/// and opens exactly one request then, with its webhook row.
#[tokio::test(start_paused = true)]
async fn a_recovery_during_a_mute_window_opens_nothing_and_an_outage_that_outlives_it_opens_one_request()
-> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let config = one_service().service(Service::new(API, "web-1", "http://api.test/"));
    let h = Harness::start(&muted(config, &sink)).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    assert_eq!(a.assignment().await?.len(), 2);
    for s in [API, SERVICE] {
        a.report(s, &Outcome::ok()).await?;
        h.wait_state(s, "up").await?;
    }

    let window = h.start_maintenance_in("web-1", HOUR, "mute").await?;
    assert_eq!((window.mode.as_str(), window.active), ("mute", true));
    let started = h.await_event("maintenance.started", |_| true).await?;
    assert_eq!(started["mode"], "mute", "{started}");
    assert!(
        a.unread_assignments().is_empty(),
        "the checks were taken away by a mute window"
    );

    confirm(&h, &mut a, &[API, SERVICE], &Outcome::status(503), "down").await?;
    let down = h
        .await_event("service.down", |b| b["id"] == SERVICE)
        .await?;
    assert_eq!(down["state"], "down", "{down}");
    assert!(
        h.requests().await?.is_empty(),
        "a request opened while muted"
    );
    assert_eq!(h.service(SERVICE).await?.open_request, None);

    // Results keep being recorded during the window.
    a.report(SERVICE, &Outcome::status(500)).await?;
    h.wait_service(SERVICE, "the 500 stored", |s| {
        s.last_status_code == Some(500)
    })
    .await?;
    confirm(&h, &mut a, &[API], &Outcome::ok(), "up").await?;
    h.await_event("service.up", |b| b["id"] == API).await?;
    assert!(h.requests().await?.is_empty());
    assert!(
        delivered(&h).await?.is_empty(),
        "webhook rows were made during the mute window: {:?}",
        delivered(&h).await?
    );

    // The window ends by itself: shop (still down) opens its request,
    // api (recovered) nothing.
    h.advance(HOUR).await;
    h.await_event("maintenance.ended", |b| b["mode"] == "mute")
        .await?;
    let opened = h
        .await_event("request.opened", |b| b["service"] == SERVICE)
        .await?;
    let description = opened["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("Held by the mute maintenance window on web-1 since "),
        "{description}"
    );
    let requests = h.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].service.as_deref(), Some(SERVICE));
    let s = h
        .wait_service(SERVICE, "linked to its request", |s| {
            s.open_request.is_some()
        })
        .await?;
    assert_eq!(s.open_request, Some(requests[0].id));
    assert_eq!(
        delivered(&h).await?,
        vec![("request.opened".to_owned(), requests[0].id.to_string())],
        "exactly one webhook row, the request's"
    );
    Ok(())
}

/// A request open when the mute starts stays open, and closes as usual
/// (with its webhook) when the service recovers during the window.
#[tokio::test(start_paused = true)]
async fn a_request_open_before_a_mute_window_closes_normally_on_recovery() -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let h = Harness::start(&muted(one_service(), &sink)).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    confirm(&h, &mut a, &[SERVICE], &Outcome::status(503), "down").await?;
    let id = h
        .wait_service(SERVICE, "a request", |s| s.open_request.is_some())
        .await?
        .open_request
        .expect("checked");

    h.start_maintenance_in("web-1", HOUR, "mute").await?;
    h.await_event("maintenance.started", |_| true).await?;
    assert_eq!(
        h.service(SERVICE).await?.open_request,
        Some(id),
        "still open"
    );
    a.report(SERVICE, &Outcome::ok()).await?;
    h.advance(Duration::from_secs(2)).await;
    let order = a.order().await?;
    a.answer(&order, &Outcome::ok()).await?;
    h.await_event("request.closed", |b| b["id"] == id).await?;
    assert_eq!(h.request(id).await?.close_reason, "recovered");
    let rows = delivered(&h).await?;
    assert!(
        rows.contains(&("request.closed".to_owned(), id.to_string())),
        "{rows:?}"
    );
    Ok(())
}

/// Ended by hand, the window releases the outage it held; a restart in
/// the middle of the window keeps the hold (it is stored).
#[tokio::test(start_paused = true)]
async fn a_held_outage_survives_a_restart_and_is_released_when_the_window_is_ended_by_hand()
-> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let mut h = Harness::start(&muted(
        one_equipment().service(Service::new(SERVICE, "web-1", "http://shop.test/")),
        &sink,
    ))
    .await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    h.start_maintenance_in("web-1", HOUR, "mute").await?;
    confirm(&h, &mut a, &[SERVICE], &Outcome::status(503), "down").await?;
    assert!(h.requests().await?.is_empty());

    h.restart().await?;
    h.advance(Duration::from_secs(60)).await;
    assert!(h.requests().await?.is_empty(), "released by the restart");
    let ended = h.end_maintenance("web-1").await?;
    assert_eq!((ended.mode.as_str(), ended.active), ("mute", false));
    h.await_event("request.opened", |b| b["service"] == SERVICE)
        .await?;
    assert_eq!(h.requests().await?.len(), 1);
    Ok(())
}
