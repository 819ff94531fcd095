//! Reminders and acknowledgement on the paused clock: a down service with
//! `remind_every = "4h"` is reminded at 4 h and 8 h after its request
//! opened (each a delivery of its own), not before; an ack or a close stops
//! the reminders; a webhook's own `remind_every` reaches that webhook only;
//! a restart keeps the cadence (no reminder at once, none twice); a
//! collector down through several periods sends one on its return.
//!
//! The agents' heartbeat interval is a day, so that no agent dies (and no
//! `[AGENT DOWN]` request opens) while the clock moves by hours. Where a
//! reminder must NOT come, the test waits for a later one that the same or
//! a later pass of the reminder actor writes, so the absence is read after
//! the pass that would have written it.

use std::time::Duration;

use picket_e2e::config::{Service, Webhook};
use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent, epoch_ms};
use picket_e2e::{Config, WebhookSink};
use picket_proto::v1 as api;
use tonic::Code;

use crate::common::{SERVICE, URL, one_equipment};
use crate::manual::down;

const HOUR: Duration = Duration::from_secs(3600);
const H_MS: i64 = 3_600_000;
const WAIT: Duration = picket_e2e::inproc::WAIT;
const RECHECK_DELAY: Duration = Duration::from_secs(2);
const OTHER: &str = "api";

/// One service (or also [`OTHER`]) on `web-1`, both with `remind_every`
/// `every` when given, agents that do not die within the test.
fn config(every: Option<&str>, other: bool) -> Config {
    let service = |id: &str, url: &str| {
        let s = Service::new(id, "web-1", url);
        match every {
            Some(every) => s.set("remind_every", every),
            None => s,
        }
    };
    let config = one_equipment()
        .agents("heartbeat_interval", "24h")
        .service(service(SERVICE, URL));
    if other {
        // On an equipment of its own: two services of one equipment down
        // together would share one `[HOST KO]` request.
        config
            .equipment("api-1", "API server 1")
            .service(service(OTHER, "http://api.test/").set("equipment", "api-1"))
    } else {
        config
    }
}

/// A receiver of reminders and acknowledgements.
fn ops(sink: &WebhookSink) -> Webhook {
    Webhook::new("ops", &sink.url()).events(&["request.reminder", "request.acknowledged"])
}

/// A collector on `config` with `ops` on `sink`, and an agent holding its
/// assignment.
async fn start(config: Config, sink: &WebhookSink) -> anyhow::Result<(Harness, ScriptedAgent)> {
    let h = Harness::start(&config.webhook(ops(sink))).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    Ok((h, a))
}

/// The `request.reminder` rows of request `id` in `webhook`'s outbox,
/// oldest first (the outbox row is written with the event).
async fn reminders(h: &Harness, webhook: &str, id: i64) -> anyhow::Result<Vec<api::Delivery>> {
    let mut rows: Vec<_> = h
        .deliveries(webhook)
        .await?
        .into_iter()
        .filter(|d| d.event_type == "request.reminder" && d.subject == id.to_string())
        .collect();
    rows.reverse();
    Ok(rows)
}

/// Waits until request `id` has `count` reminders in `webhook`'s outbox.
async fn await_reminders(
    h: &Harness,
    webhook: &str,
    id: i64,
    count: usize,
) -> anyhow::Result<Vec<api::Delivery>> {
    h.wait_for(
        &format!("{count} reminders of request {id} for {webhook}"),
        || async {
            let rows = reminders(h, webhook, id).await?;
            Ok(if rows.len() >= count {
                Ok(rows)
            } else {
                Err(format!("{} so far", rows.len()))
            })
        },
    )
    .await
}

/// When each reminder was written, in whole hours (and the remainder in
/// ms) after request `id` opened.
async fn offsets(h: &Harness, rows: &[api::Delivery], id: i64) -> anyhow::Result<Vec<i64>> {
    let opened = epoch_ms(h.request(id).await?.opened_at.as_ref()).unwrap_or_default();
    Ok(rows
        .iter()
        .map(|d| epoch_ms(d.created_at.as_ref()).unwrap_or_default() - opened)
        .collect())
}

/// Asserts each offset is `hours[i]` hours, to within a second.
fn assert_at(offsets: &[i64], hours: &[i64]) {
    assert_eq!(offsets.len(), hours.len(), "reminders at {offsets:?} ms");
    for (got, h) in offsets.iter().zip(hours) {
        assert!(
            (h * H_MS..h * H_MS + 1000).contains(got),
            "a reminder at {got} ms after opening, expected {h} h: {offsets:?}"
        );
    }
}

/// Moves the clock by `by` once every webhook has delivered what it has
/// (an outcome still being recorded when the clock jumps by hours would
/// see its pool's acquire timeout pass, and the delivery be sent again).
async fn later(h: &Harness, by: Duration) -> anyhow::Result<()> {
    h.wait_for("every delivery recorded", || async {
        let pending: Vec<_> = h
            .webhooks()
            .await?
            .into_iter()
            .filter(|w| w.pending > 0)
            .collect();
        Ok(if pending.is_empty() {
            Ok(())
        } else {
            Err(format!("{pending:?}"))
        })
    })
    .await?;
    h.advance(by).await;
    Ok(())
}

/// Takes [`SERVICE`] and [`OTHER`] down in one round and moves the clock
/// past their first reminder (4 h); their request ids, lower first (the
/// pass handles the lower first, so its reminder would come before the
/// other's).
async fn both_reminded_once(h: &Harness, a: &mut ScriptedAgent) -> anyhow::Result<(i64, i64)> {
    let fail = Outcome::status(503);
    a.report(SERVICE, &fail).await?;
    a.report(OTHER, &fail).await?;
    h.advance(RECHECK_DELAY).await;
    for _ in 0..2 {
        let order = a.order().await?;
        a.answer(&order, &fail).await?;
    }
    let mut ids = Vec::new();
    for id in [SERVICE, OTHER] {
        let s = h
            .wait_service(id, "down with a request", |s| s.open_request.is_some())
            .await?;
        ids.extend(s.open_request);
    }
    ids.sort();
    later(h, 4 * HOUR + Duration::from_millis(1)).await?;
    for id in &ids {
        await_reminders(h, "ops", *id, 1).await?;
    }
    Ok((ids[0], ids[1]))
}

/// Moves the clock by 4 h: `other` gets its second reminder, `stopped`
/// (acknowledged or closed) nothing more.
async fn no_more_reminders(h: &Harness, stopped: i64, other: i64) -> anyhow::Result<()> {
    later(h, 4 * HOUR).await?;
    await_reminders(h, "ops", other, 2).await?;
    let rows = reminders(h, "ops", stopped).await?;
    assert_eq!(rows.len(), 1, "a reminder after the ack or close: {rows:?}");
    Ok(())
}

/// Nothing before 4 h; then reminder 1 at 4 h and 2 at 8 h, each its own
/// delivery (fresh `webhook-id`) with `reminder` and `open_for`, counted
/// in `picket_request_reminders_total`.
#[tokio::test(start_paused = true)]
async fn a_down_service_is_reminded_at_4h_and_8h_each_a_distinct_delivery() -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let (h, mut a) = start(config(Some("4h"), false), &sink).await?;
    let id = down(&h, &mut a).await?;

    later(&h, 4 * HOUR - Duration::from_secs(60)).await?;
    // The offsets below prove it too: the first reminder is at 4 h.
    assert!(reminders(&h, "ops", id).await?.is_empty(), "none before 4h");
    later(&h, Duration::from_secs(60) + Duration::from_millis(1)).await?;
    let first = await_reminders(&h, "ops", id, 1).await?;
    assert_at(&offsets(&h, &first, id).await?, &[4]);
    later(&h, 4 * HOUR).await?;
    let rows = await_reminders(&h, "ops", id, 2).await?;
    assert_at(&offsets(&h, &rows, id).await?, &[4, 8]);

    let sent = sink.await_deliveries("request.reminder", 2, WAIT).await?;
    let bodies: Vec<_> = sent.iter().map(|d| &d.body).collect();
    assert_eq!(bodies[0]["id"], id);
    assert_eq!(
        (&bodies[0]["reminder"], &bodies[1]["reminder"]),
        (&1.into(), &2.into())
    );
    assert_eq!(bodies[0]["open_for"], 4 * 3600, "{}", bodies[0]);
    assert_eq!(bodies[1]["open_for"], 8 * 3600, "{}", bodies[1]);
    assert_eq!(bodies[1]["stage"], "open");
    let ids: Vec<_> = sent.iter().map(|d| d.header("webhook-id")).collect();
    assert!(
        ids[0].is_some() && ids[0] != ids[1],
        "distinct deliveries: {ids:?}"
    );
    let metrics = h.metrics().await?;
    assert!(
        metrics
            .lines()
            .any(|l| l == "picket_request_reminders_total 2"),
        "{metrics}"
    );
    Ok(())
}

/// Of two requests reminded together, the acknowledged one gets nothing
/// after its ack (the other's next reminder is the proof that the pass
/// ran); `request.acknowledged` names who; a second ack is refused.
#[tokio::test(start_paused = true)]
async fn an_acknowledged_request_is_reminded_no_more() -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let (h, mut a) = start(config(Some("4h"), true), &sink).await?;
    let (acked, other) = both_reminded_once(&h, &mut a).await?;

    let answer = h.acknowledge(acked, "alice").await?;
    assert_eq!(answer.acknowledged_by, "alice");
    assert_eq!(epoch_ms(answer.acknowledged_at.as_ref()), Some(h.now_ms()));
    let event = sink.await_delivery("request.acknowledged", WAIT).await?;
    assert_eq!(
        (&event.body["id"], &event.body["acknowledged_by"]),
        (&acked.into(), &"alice".into())
    );
    let again = h.acknowledge(acked, "bob").await.expect_err("refused");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(
        again.message().contains("already acknowledged by alice"),
        "{again:?}"
    );

    no_more_reminders(&h, acked, other).await?;
    Ok(())
}

/// Of two requests reminded together, the one closed by hand gets nothing
/// more (the other's next reminder proves the pass ran).
#[tokio::test(start_paused = true)]
async fn a_closed_request_is_reminded_no_more() -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let (h, mut a) = start(config(Some("4h"), true), &sink).await?;
    let (closed, other) = both_reminded_once(&h, &mut a).await?;
    h.close_request(closed, "fixed").await?;
    no_more_reminders(&h, closed, other).await?;
    Ok(())
}

/// `pager` (only `request.opened`, its own `remind_every = "1h"`) gets a
/// reminder every hour of a service that has no `remind_every`; `ops`,
/// subscribed to `request.reminder`, gets none of them.
#[tokio::test(start_paused = true)]
async fn a_webhook_remind_every_reaches_only_that_webhook() -> anyhow::Result<()> {
    let (pager_sink, ops_sink) = (WebhookSink::start().await?, WebhookSink::start().await?);
    let pager = Webhook::new("pager", &pager_sink.url())
        .events(&["request.opened"])
        .set("remind_every", "1h");
    let (h, mut a) = start(config(None, false).webhook(pager), &ops_sink).await?;
    let id = down(&h, &mut a).await?;
    later(&h, HOUR + Duration::from_millis(1)).await?;
    await_reminders(&h, "pager", id, 1).await?;
    later(&h, HOUR).await?;
    let rows = await_reminders(&h, "pager", id, 2).await?;
    assert_at(&offsets(&h, &rows, id).await?, &[1, 2]);
    let sent = pager_sink
        .await_deliveries("request.reminder", 2, WAIT)
        .await?;
    assert_eq!(sent[1].body["reminder"], 2);
    assert!(reminders(&h, "ops", id).await?.is_empty(), "not ops");
    assert!(ops_sink.deliveries_of("request.reminder").is_empty());
    Ok(())
}

/// Restarted at 5 h (after reminder 1): the next comes at 8 h as number 2,
/// not at the restart and not twice.
#[tokio::test(start_paused = true)]
async fn after_a_restart_the_next_reminder_comes_at_its_time() -> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let (mut h, mut a) = start(config(Some("4h"), false), &sink).await?;
    let id = down(&h, &mut a).await?;
    later(&h, 4 * HOUR + Duration::from_millis(1)).await?;
    await_reminders(&h, "ops", id, 1).await?;
    later(&h, HOUR).await?;
    drop(a);
    h.restart().await?;
    later(&h, 3 * HOUR).await?;
    let rows = await_reminders(&h, "ops", id, 2).await?;
    assert_at(&offsets(&h, &rows, id).await?, &[4, 8]);
    let sent = sink.await_deliveries("request.reminder", 2, WAIT).await?;
    assert_eq!(sent[1].body["reminder"], 2);
    Ok(())
}

/// Stopped from 4 h to 14 h (two slots missed): one reminder on its
/// return (number 2), the next at 16 h (number 3), not a burst.
#[tokio::test(start_paused = true)]
async fn a_collector_down_through_several_periods_sends_one_reminder_on_return()
-> anyhow::Result<()> {
    let sink = WebhookSink::start().await?;
    let (mut h, mut a) = start(config(Some("4h"), false), &sink).await?;
    let id = down(&h, &mut a).await?;
    later(&h, 4 * HOUR + Duration::from_millis(1)).await?;
    await_reminders(&h, "ops", id, 1).await?;
    drop(a);
    later(&h, Duration::ZERO).await?;
    h.stop().await?;
    h.advance(10 * HOUR).await;
    h.restart().await?;
    await_reminders(&h, "ops", id, 2).await?;
    later(&h, 2 * HOUR).await?;
    let rows = await_reminders(&h, "ops", id, 3).await?;
    assert_at(&offsets(&h, &rows, id).await?, &[4, 14, 16]);
    let sent = sink.await_deliveries("request.reminder", 3, WAIT).await?;
    let numbers: Vec<_> = sent.iter().map(|d| d.body["reminder"].clone()).collect();
    assert_eq!(numbers, [1, 2, 3]);
    Ok(())
}
