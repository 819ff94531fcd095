//! Webhook delivery against real receivers ([`WebhookSink`]) on the paused
//! clock: `Retry-After` (seconds and HTTP date) sets the next attempt, and
//! a 410 Gone disables its receiver, and only it, until a restart.
//!
//! Events come from maintenance windows (one event per start or end), so
//! no agent is needed.

use std::time::Duration;

use picket_e2e::config::Webhook;
use picket_e2e::inproc::Harness;
use picket_e2e::{Reply, WebhookSink};
use picket_proto::prost_types::Timestamp;

use crate::common::one_service;

const EQUIPMENT: &str = "web-1";
const HOUR: Duration = Duration::from_secs(3600);
const WAIT: Duration = picket_e2e::inproc::WAIT;

fn ms(t: Option<&Timestamp>) -> i64 {
    t.map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

/// A receiver of the maintenance events retrying after 1 s by default, so
/// that a later next attempt can only come from `Retry-After`.
fn hook(name: &str, sink: &WebhookSink, events: &[&str]) -> Webhook {
    Webhook::new(name, &sink.url())
        .events(events)
        .set("retry_initial", "1s")
}

/// The receiver answers 503 with `retry_after`; the stored next attempt is
/// at `expected_ms` to the millisecond (the backoff alone says ~1 s), and
/// once the clock gets there the same message (same `webhook-id`) is
/// delivered, stamped no earlier.
async fn retry_after_is_honoured(
    retry_after: impl Fn(i64) -> String,
    expected_ms: impl Fn(i64) -> i64,
) -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let config = one_service().webhook(hook("ops", &sink, &["maintenance.started"]));
    let h = Harness::start(&config).await?;
    let now = h.now_ms();
    sink.script([Reply::status(503).header("Retry-After", &retry_after(now))]);
    h.start_maintenance(EQUIPMENT, HOUR).await?;

    let first = h
        .wait_delivery("ops", "a first, failed attempt", |d| d.attempts == 1)
        .await?;
    assert_eq!(first.state, "pending", "{first:?}");
    assert!(
        first.last_error.contains("HTTP 503 (Retry-After: "),
        "{first:?}"
    );
    assert_eq!(ms(first.first_attempt_at.as_ref()), now, "{first:?}");
    assert_eq!(
        ms(first.next_attempt_at.as_ref()) - now,
        expected_ms(now) - now,
        "next attempt (ms after the first): {first:?}"
    );

    // One step to the due time, plus a millisecond: the worker's timer or
    // its next look at the outbox finds the row due. tokio's timer wheel
    // rounds a deadline up to the next whole millisecond of its clock, so a
    // timer armed at an instant with a sub-millisecond part fires one tick
    // after the exact due time; with the clock held, a step to exactly the
    // due time could leave it waiting forever (our best explanation of one
    // CI failure: 534 of 535 passed, this one timed out).
    h.advance(Duration::from_millis((expected_ms(now) - now) as u64 + 1))
        .await;
    let both = sink
        .await_deliveries("maintenance.started", 2, WAIT)
        .await?;
    let stamp = |i: usize| -> i64 {
        both[i]
            .header("webhook-timestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or_default()
    };
    assert!(
        stamp(1) * 1000 >= expected_ms(now) - 999,
        "retried at {} s, before the Retry-After ({} ms)",
        stamp(1),
        expected_ms(now)
    );
    assert_eq!(both[0].header("webhook-id"), both[1].header("webhook-id"));
    let done = h
        .wait_delivery("ops", "the delivery recorded", |d| d.state == "delivered")
        .await?;
    assert_eq!(done.attempts, 2, "{done:?}");
    assert_eq!(done.last_error, "", "{done:?}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_sets_the_next_attempt() -> anyhow::Result<()> {
    retry_after_is_honoured(|_| "120".into(), |now| now + 120_000).await
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_sets_the_next_attempt() -> anyhow::Result<()> {
    let at = |now: i64| (now + 300_000) / 1000 * 1000;
    let date = move |now: i64| {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_millis(at(now) as u64))
    };
    retry_after_is_honoured(date, at).await
}

/// A Retry-After of a year is capped at `retry_max_interval` (here 2 h).
#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_is_capped_at_retry_max_interval() -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let config = one_service()
        .webhook(hook("ops", &sink, &["maintenance.started"]).set("retry_max_interval", "2h"));
    let h = Harness::start(&config).await?;
    sink.script([Reply::status(429).header("Retry-After", "31536000")]);
    let now = h.now_ms();
    h.start_maintenance(EQUIPMENT, HOUR).await?;
    let first = h
        .wait_delivery("ops", "a first, failed attempt", |d| d.attempts == 1)
        .await?;
    assert_eq!(
        ms(first.next_attempt_at.as_ref()) - now,
        2 * 3_600_000,
        "{first:?}"
    );
    Ok(())
}

/// `gone` answers 410: it is disabled (listed so, an event, a metric) and
/// gets nothing more while `ok` receives every later event; its rows stay
/// pending, and a restart delivers them (the first with its `webhook-id`).
#[tokio::test(start_paused = true)]
async fn gone_disables_only_that_receiver_until_restart() -> anyhow::Result<()> {
    let events = [
        "maintenance.started",
        "maintenance.ended",
        "webhook.disabled",
    ];
    let (gone, ok) = (WebhookSink::start().await?, WebhookSink::start().await?);
    gone.set_status(410);
    let config = one_service()
        .webhook(hook("gone", &gone, &events))
        .webhook(hook("ok", &ok, &events));
    let mut h = Harness::start(&config).await?;

    h.start_maintenance(EQUIPMENT, HOUR).await?;
    let disabled = h
        .await_event("webhook.disabled", |b| b["webhook"] == "gone")
        .await?;
    assert_eq!(disabled["reason"], "HTTP 410 Gone", "{disabled}");
    let told = ok.await_delivery("webhook.disabled", WAIT).await?;
    assert_eq!(told.body["webhook"], "gone", "{}", told.raw_body);
    let listed = h.webhook("gone").await?;
    assert!(listed.disabled, "{listed:?}");
    assert_eq!(listed.disabled_reason, "HTTP 410 Gone");
    assert_eq!(
        (listed.pending, listed.failed),
        (1, 0),
        "the 410'd delivery stays pending: {listed:?}"
    );
    assert!(!h.webhook("ok").await?.disabled);
    let metrics = h.metrics().await?;
    assert!(
        metrics.contains(r#"picket_webhook_disabled{webhook="gone"} 1"#)
            && metrics.contains(r#"picket_webhook_disabled{webhook="ok"} 0"#),
        "{metrics}"
    );

    // Later events, and hours for any retry to fall due: `ok` gets them all,
    // `gone` nothing.
    h.end_maintenance(EQUIPMENT).await?;
    h.advance(2 * HOUR).await;
    h.start_maintenance(EQUIPMENT, HOUR).await?;
    ok.await_deliveries("maintenance.started", 2, WAIT).await?;
    ok.await_delivery("maintenance.ended", WAIT).await?;
    assert_eq!(gone.hits(), 1, "a disabled receiver was called again");
    let listed = h.webhook("gone").await?;
    assert_eq!((listed.pending, listed.delivered), (3, 0), "{listed:?}");
    let attempts: u32 = h.deliveries("gone").await?.iter().map(|d| d.attempts).sum();
    assert_eq!(attempts, 1);

    // A restart re-enables it: the pending rows go out, nothing was lost.
    gone.set_status(200);
    h.restart().await?;
    let started = gone
        .await_deliveries("maintenance.started", 3, WAIT)
        .await?;
    assert_eq!(
        started[0].header("webhook-id"),
        started[1].header("webhook-id")
    );
    gone.await_delivery("maintenance.ended", WAIT).await?;
    let listed = h
        .wait_for("gone's rows delivered", || async {
            let w = h.webhook("gone").await?;
            Ok(if w.delivered == 3 {
                Ok(w)
            } else {
                Err(format!("{w:?}"))
            })
        })
        .await?;
    assert!(!listed.disabled && listed.pending == 0, "{listed:?}");
    assert_eq!(gone.deliveries_of("webhook.disabled").len(), 0);
    Ok(())
}
