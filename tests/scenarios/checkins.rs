//! Push check-ins on the paused clock: `[[heartbeats]]` and registered
//! instances pinging `POST /ping/{token}`; silence past `period + grace`
//! opens one `[NO CHECK-IN]` request (and its webhook), the next ping
//! closes it; `new` and `suspended` heartbeats never alert; maintenance
//! holds the alert; a cloned token is flagged; unknown tokens are 404,
//! then 429.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use picket_e2e::config::Webhook;
use picket_e2e::inproc::{Harness, WAIT};
use picket_e2e::{Config, WebhookSink};
use serde_json::Value;

use crate::common::one_equipment;

const SECOND: Duration = Duration::from_secs(1);
/// `period + grace` of the heartbeats below.
const WINDOW: Duration = Duration::from_secs(70);
const ENROLL: &str = "hb-enroll-secret";

/// Heartbeats `backup` (on `web-1`) and `cron` (no equipment), 60 s + 10 s.
fn heartbeats() -> Config {
    one_equipment()
        .collector("heartbeat_enrollment_token", ENROLL)
        .raw(
            "[[heartbeats]]\nid = \"backup\"\nname = \"nightly backup\"\nperiod = \"60s\"\ngrace = \"10s\"\nequipment = \"web-1\"\n\
             [[heartbeats]]\nid = \"cron\"\nperiod = \"60s\"\ngrace = \"10s\"\n",
        )
}

fn ip(last: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// The names of the requests opened so far.
async fn request_names(h: &Harness) -> anyhow::Result<Vec<String>> {
    Ok(h.requests().await?.into_iter().map(|r| r.name).collect())
}

#[tokio::test(start_paused = true)]
async fn silence_past_period_and_grace_opens_one_request_and_the_next_ping_closes_it()
-> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let config = heartbeats()
        .webhook(Webhook::new("ops", &sink.url()).events(&["request.opened", "request.closed"]));
    let h = Harness::start(&config).await?;
    let token = h.heartbeat_token("cron").await?;
    let ping = h.ping(&token, Some(r#"{"disk_used": 0.9}"#), None).await?;
    assert_eq!(ping.status, 200, "{ping:?}");
    assert_eq!(json(&ping.body)["id"], "cron");

    h.advance(WINDOW - SECOND).await;
    assert!(
        !request_names(&h).await?.iter().any(|n| n.contains("cron")),
        "nothing before period + grace"
    );
    h.advance(SECOND * 2).await;
    let opened = h
        .await_event("request.opened", |b| b["name"] == "[NO CHECK-IN] cron")
        .await?;
    assert_eq!(opened["kind"], "checkin", "{opened}");
    let shown = h.heartbeat("cron").await?;
    assert_eq!(
        (shown.liveness.as_str(), shown.open_request),
        ("late", opened["id"].as_i64().unwrap_or_default())
    );
    assert_eq!(json(&shown.last_stats_json)["disk_used"], 0.9);
    // `backup` (never pinged) is due at the same instant: its request is
    // written before the clock jumps again (a jump while the write waits
    // for the connection would time the wait out).
    h.await_event("request.opened", |b| {
        b["name"] == "[NO CHECK-IN] nightly backup"
    })
    .await?;
    // Silent for three more windows: still one request, one webhook.
    h.advance(WINDOW * 3).await;
    let delivered = sink.await_deliveries("request.opened", 2, WAIT).await?;
    assert!(
        delivered
            .iter()
            .any(|d| d.body["name"] == "[NO CHECK-IN] cron"),
        "{delivered:?}"
    );

    let back = h.ping(&token, None, None).await?;
    assert_eq!(back.status, 200, "{back:?}");
    let closed = h
        .await_event("request.closed", |b| b["id"] == opened["id"])
        .await?;
    assert_eq!(closed["close_reason"], "recovered");
    let note = closed["notes"][0]["text"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("closed automatically: heartbeat cron (cron) checked in at"),
        "{note}"
    );
    let log = h.events_until("heartbeat.resumed", |_| true).await?;
    let count = |t: &str| {
        let cron = |b: &Value| b["heartbeat"]["id"] == "cron" || b["name"] == "[NO CHECK-IN] cron";
        log.iter().filter(|(ty, b)| ty == t && cron(b)).count()
    };
    assert_eq!(
        (count("heartbeat.missed"), count("request.opened")),
        (1, 1),
        "one alert for one silence"
    );
    sink.await_delivery("request.closed", WAIT).await?;
    let cron_opened = sink
        .deliveries_of("request.opened")
        .into_iter()
        .filter(|d| d.body["name"] == "[NO CHECK-IN] cron")
        .count();
    assert_eq!(cron_opened, 1, "one webhook for one silence");
    assert_eq!(h.heartbeat("cron").await?.liveness, "ok");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn new_and_suspended_heartbeats_never_alert() -> anyhow::Result<()> {
    let h = Harness::start(&heartbeats()).await?;
    let bearer = format!("Bearer {ENROLL}");
    let registered = h
        .http_post(
            "/heartbeats/register",
            &[("authorization", &bearer)],
            Some(r#"{"name": "customer 42", "period": "10s", "grace": "5s"}"#),
            None,
        )
        .await?;
    assert_eq!(registered.status, 201, "{registered:?}");
    let reg = json(&registered.body);
    let id = reg["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(h.heartbeat(&id).await?.state, "new");
    let token = reg["token"].as_str().unwrap_or_default();
    assert_eq!(
        h.ping(token, None, None).await?.status,
        200,
        "new ones ping"
    );
    let suspended = h.suspend_heartbeat("backup").await?;
    assert_eq!(suspended.state, "suspended");
    let backup_token = h.heartbeat_token("backup").await?;
    assert_eq!(h.ping(&backup_token, None, None).await?.status, 404);

    // `cron` is the one active heartbeat: its request is the only one.
    h.advance(WINDOW * 5).await;
    let log = h
        .events_until("request.opened", |b| b["name"] == "[NO CHECK-IN] cron")
        .await?;
    h.advance(WINDOW * 5).await;
    let opened: Vec<&Value> = log
        .iter()
        .filter(|(t, _)| t == "request.opened" || t == "heartbeat.missed")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(opened.len(), 2, "cron's missed and opened only: {opened:?}");
    assert_eq!(request_names(&h).await?, ["[NO CHECK-IN] cron"]);

    // Approved, the registered one alerts after its own window.
    h.approve_heartbeat(&id).await?;
    h.advance(Duration::from_secs(16)).await;
    h.await_event("request.opened", |b| {
        b["name"] == "[NO CHECK-IN] customer 42"
    })
    .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_in_maintenance_opens_nothing_until_the_window_ends() -> anyhow::Result<()> {
    let h = Harness::start(&heartbeats()).await?;
    h.start_maintenance("web-1", Duration::from_secs(3600))
        .await?;
    h.advance(WINDOW + SECOND).await;
    // `cron` (no equipment) alerts at the same deadline; `backup` does not.
    h.await_event("request.opened", |b| b["name"] == "[NO CHECK-IN] cron")
        .await?;
    h.advance(WINDOW * 3).await;
    assert_eq!(request_names(&h).await?, ["[NO CHECK-IN] cron"]);
    assert!(h.heartbeat("backup").await?.open_request == 0);
    // Still silent when the window ends: its request opens then.
    h.end_maintenance("web-1").await?;
    let opened = h
        .await_event("request.opened", |b| {
            b["name"] == "[NO CHECK-IN] nightly backup"
        })
        .await?;
    assert_eq!(opened["equipment_id"], "web-1");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_token_pinged_alternately_from_two_sources_is_flagged_cloned_once() -> anyhow::Result<()>
{
    let h = Harness::start(&heartbeats()).await?;
    let token = h.heartbeat_token("cron").await?;
    // One instance that moves is not a clone.
    for source in [ip(1), ip(1), ip(2), ip(2)] {
        assert_eq!(h.ping(&token, None, source).await?.status, 200);
        h.advance(SECOND).await;
    }
    assert!(!h.heartbeat("cron").await?.cloned, "moved, not cloned");
    // Then B, A, B within one window.
    assert_eq!(h.ping(&token, None, ip(1)).await?.status, 200);
    assert_eq!(h.ping(&token, None, ip(2)).await?.status, 200);
    let flagged = h.await_event("heartbeat.cloned", |_| true).await?;
    assert_eq!(
        flagged["heartbeat"]["cloned_sources"],
        serde_json::json!(["127.0.0.1", "127.0.0.2"])
    );
    for source in [ip(2), ip(1), ip(2)] {
        h.ping(&token, None, source).await?;
    }
    let shown = h.heartbeat("cron").await?;
    assert_eq!(
        (shown.cloned, shown.cloned_sources.clone()),
        (true, vec!["127.0.0.1".to_owned(), "127.0.0.2".to_owned()])
    );
    let log = h.events_until("heartbeat.cloned", |_| true).await?;
    assert_eq!(
        log.iter().filter(|(t, _)| t == "heartbeat.cloned").count(),
        1
    );
    // A new token clears the flag; `instance` names the source.
    let token = h.heartbeat_token("cron").await?;
    assert!(!h.heartbeat("cron").await?.cloned);
    for instance in ["vm-a", "vm-b", "vm-a"] {
        let body = format!(r#"{{"instance": "{instance}"}}"#);
        h.ping(&token, Some(&body), ip(1)).await?;
    }
    let shown = h.heartbeat("cron").await?;
    assert_eq!(shown.cloned_sources, ["vm-a", "vm-b"]);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn unknown_tokens_are_404_then_429_and_bad_bodies_400() -> anyhow::Result<()> {
    let h = Harness::start(&heartbeats()).await?;
    let guess = "A".repeat(43);
    for i in 0..10 {
        let answer = h.ping(&guess, None, ip(3)).await?;
        assert_eq!(answer.status, 404, "guess {i}: {answer:?}");
    }
    let limited = h.ping(&guess, None, ip(3)).await?;
    assert_eq!(limited.status, 429, "{limited:?}");
    // Another address is not limited, and a good token is answered.
    let token = h.heartbeat_token("cron").await?;
    assert_eq!(h.ping(&token, None, ip(4)).await?.status, 200);
    let array = h.ping(&token, Some("[1, 2]"), ip(4)).await?;
    assert_eq!(array.status, 400);
    assert!(
        array.body.contains("must be a JSON object"),
        "{}",
        array.body
    );
    let big = format!(r#"{{"x": "{}"}}"#, "y".repeat(70_000));
    let too_big = h.ping(&token, Some(&big), ip(4)).await?;
    assert_eq!(too_big.status, 400);
    assert!(
        too_big.body.contains("over 65536 bytes"),
        "{}",
        too_big.body
    );
    let metrics = h.metrics().await?;
    for line in [
        "picket_heartbeat_pings_total{result=\"unknown\"} 10",
        "picket_heartbeat_pings_total{result=\"rejected\"} 3",
        "picket_heartbeat_pings_total{result=\"ok\"} 1",
        "picket_heartbeats{state=\"active\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_a_silent_heartbeat_alerts_and_one_that_pings_does_not()
-> anyhow::Result<()> {
    let mut h = Harness::start(&heartbeats()).await?;
    let cron = h.heartbeat_token("cron").await?;
    let backup = h.heartbeat_token("backup").await?;
    h.ping(&cron, None, None).await?;
    h.ping(&backup, None, None).await?;
    h.stop().await?;
    h.advance(Duration::from_secs(50)).await;
    h.restart().await?;
    // `backup` keeps pinging every period; `cron` stays silent.
    for _ in 0..3 {
        h.advance(Duration::from_secs(60)).await;
        assert_eq!(h.ping(&backup, None, None).await?.status, 200);
    }
    h.await_event("request.opened", |b| b["name"] == "[NO CHECK-IN] cron")
        .await?;
    assert_eq!(request_names(&h).await?, ["[NO CHECK-IN] cron"]);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_reload_adds_changes_and_removes_heartbeats() -> anyhow::Result<()> {
    let mut h = Harness::start(&heartbeats()).await?;
    h.advance(WINDOW + SECOND).await;
    let opened = h
        .await_event("request.opened", |b| b["name"] == "[NO CHECK-IN] cron")
        .await?;
    // `backup`, due at the same instant, is written before the reload.
    h.await_event("request.opened", |b| {
        b["name"] == "[NO CHECK-IN] nightly backup"
    })
    .await?;
    // `cron` removed, `backup` slower, `nas` added.
    h.rewrite(&one_equipment().raw(
        "[[heartbeats]]\nid = \"backup\"\nname = \"nightly backup\"\nperiod = \"1h\"\n\
         [[heartbeats]]\nid = \"nas\"\nperiod = \"30s\"\ngrace = \"5s\"\n",
    ))?;
    let reloaded = h.reload().await?;
    assert!(reloaded.ok, "{reloaded:?}");
    let closed = h
        .await_event("request.closed", |b| b["id"] == opened["id"])
        .await?;
    assert_eq!(closed["close_reason"], "removed", "{closed}");
    assert!(h.heartbeat("cron").await.is_err(), "cron is gone");
    assert_eq!(h.heartbeat("backup").await?.period_ms, 3_600_000);
    h.advance(Duration::from_secs(36)).await;
    h.await_event("request.opened", |b| b["name"] == "[NO CHECK-IN] nas")
        .await?;
    Ok(())
}
