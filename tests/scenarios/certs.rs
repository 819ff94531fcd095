//! `service.cert_expiring`: once per certificate (its notAfter) of a
//! service, whichever agent saw it, however many probes, and not again
//! after a collector restart; again for a different certificate also
//! within `cert_expiry_warning`; delivered to webhooks like any event.

use picket_e2e::WebhookSink;
use picket_e2e::config::Webhook;
use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent};

use crate::common::{SERVICE, one_service};

const KIND: &str = "service.cert_expiring";
const DAY_MS: i64 = 86_400_000;
const WAIT: std::time::Duration = picket_e2e::inproc::WAIT;

/// `agent` reports `n` successful probes showing a certificate valid
/// until `not_after_ms`.
async fn probes(agent: &mut ScriptedAgent, n: usize, not_after_ms: i64) -> anyhow::Result<()> {
    for _ in 0..n {
        agent
            .report(SERVICE, &Outcome::ok().with_cert_expiry(not_after_ms))
            .await?;
    }
    Ok(())
}

/// The notAfter (epoch ms) each `service.cert_expiring` in `log` names.
fn warned(log: &[(String, serde_json::Value)]) -> Vec<String> {
    log.iter()
        .filter(|(kind, _)| kind == KIND)
        .map(|(_, body)| body["not_after"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn rfc3339(ms: i64) -> String {
    picket_proto::contract::text::rfc3339(ms)
}

#[tokio::test(start_paused = true)]
async fn cert_expiring_fires_once_per_certificate_across_agents_and_restarts() -> anyhow::Result<()>
{
    let sink = WebhookSink::start().await?;
    let config = one_service().webhook(Webhook::new("ops", &sink.url()).events(&[KIND]));
    let mut h = Harness::start(&config).await?;
    let mut paris = h.agent("edge-1", "eu").await?;
    let mut tokyo = h.agent("edge-2", "ap").await?;
    paris.assignment().await?;
    tokyo.assignment().await?;
    // Whole seconds (the store keeps results' expiries in seconds), from
    // the next one, so that `days_left` counts whole days.
    let now = (h.now_ms() / 1000 + 1) * 1000;
    let far = now + 60 * DAY_MS;
    let soon = now + 5 * DAY_MS;
    let renewed_but_soon = now + 10 * DAY_MS;
    let third = now + 12 * DAY_MS;

    // A certificate far from expiry warns nothing; the expiring one warns
    // once for three probes from each of two agents.
    probes(&mut paris, 2, far).await?;
    probes(&mut paris, 3, soon).await?;
    probes(&mut tokyo, 3, soon).await?;
    // A renewal that did not help: a new certificate, a new warning.
    probes(&mut tokyo, 1, renewed_but_soon).await?;
    let log = h
        .events_until(KIND, |b| b["not_after"] == rfc3339(renewed_but_soon))
        .await?;
    assert_eq!(
        warned(&log),
        [rfc3339(soon), rfc3339(renewed_but_soon)],
        "{log:?}"
    );
    let first = &log.iter().find(|(k, _)| k == KIND).expect("warned").1;
    assert_eq!(first["service"], SERVICE);
    assert_eq!(first["equipment"], "Web server 1");
    assert_eq!(first["equipment_id"], "web-1");
    assert_eq!(first["days_left"], 5);
    assert_eq!(first["expired"], false);

    // GetService: the earliest expiry among the agents' latest results.
    let s = h.service(SERVICE).await?;
    let at = s.cert_expiring_at.expect("cert_expiring_at");
    assert_eq!(at.seconds * 1000, soon, "paris's latest is the earlier one");

    // After a restart, both certificates seen again warn nothing; a third
    // one does, and the log up to it holds three warnings in all.
    h.restart().await?;
    paris.closed().await?;
    tokyo.closed().await?;
    let mut paris = h
        .reconnect(&paris.identity().clone())
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    let mut tokyo = h
        .reconnect(&tokyo.identity().clone())
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    paris.assignment().await?;
    tokyo.assignment().await?;
    probes(&mut paris, 2, soon).await?;
    probes(&mut tokyo, 2, renewed_but_soon).await?;
    probes(&mut paris, 1, third).await?;
    let log = h
        .events_until(KIND, |b| b["not_after"] == rfc3339(third))
        .await?;
    assert_eq!(
        warned(&log),
        [rfc3339(soon), rfc3339(renewed_but_soon), rfc3339(third)],
        "{log:?}"
    );

    // Each warning reached the webhook once, as the log wrote it.
    let delivered = sink.await_deliveries(KIND, 3, WAIT).await?;
    let mut got: Vec<String> = delivered
        .iter()
        .map(|d| d.body["not_after"].as_str().unwrap_or("").to_owned())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [rfc3339(soon), rfc3339(renewed_but_soon), rfc3339(third)]
    );
    let body = &delivered[0].body;
    assert_eq!(body["event"], KIND);
    assert!(body["days_left"].is_i64(), "{body}");
    assert!(delivered[0].header("webhook-id").is_some());
    assert_eq!(sink.deliveries_of(KIND).len(), 3, "no more than once each");
    Ok(())
}

/// An expired certificate warns too, with negative days left; a service
/// whose own `cert_expiry_warning` is short ignores what the default would
/// warn about.
#[tokio::test(start_paused = true)]
async fn expired_certificates_warn_and_the_per_service_warning_applies() -> anyhow::Result<()> {
    let config = crate::common::one_equipment().service(
        picket_e2e::config::Service::new(SERVICE, "web-1", crate::common::URL)
            .set("cert_expiry_warning", "2d"),
    );
    let h = Harness::start(&config).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let now = (h.now_ms() / 1000 + 1) * 1000;
    let in_five_days = now + 5 * DAY_MS;
    let expired = now - 3 * DAY_MS - 2000;
    probes(&mut a, 1, in_five_days).await?;
    probes(&mut a, 1, expired).await?;
    let log = h
        .events_until(KIND, |b| b["not_after"] == rfc3339(expired))
        .await?;
    assert_eq!(warned(&log), [rfc3339(expired)], "{log:?}");
    let body = &log.last().expect("the warning").1;
    assert_eq!(body["days_left"], -4);
    assert_eq!(body["expired"], true);
    Ok(())
}

/// A reload that lengthens `cert_expiry_warning` applies to the next
/// result: a certificate the old warning ignored warns, and GetService's
/// `cert_expiring_at` follows the new warning.
#[tokio::test(start_paused = true)]
async fn a_reloaded_warning_applies_to_the_next_result() -> anyhow::Result<()> {
    let service = |warning: &str| {
        crate::common::one_equipment().service(
            picket_e2e::config::Service::new(SERVICE, "web-1", crate::common::URL)
                .set("cert_expiry_warning", warning),
        )
    };
    let mut h = Harness::start(&service("7d")).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let now = (h.now_ms() / 1000 + 1) * 1000;
    let in_ten_days = now + 10 * DAY_MS;
    probes(&mut a, 2, in_ten_days).await?;
    h.wait_state(SERVICE, "up").await?;
    assert_eq!(h.service(SERVICE).await?.cert_expiring_at, None);

    h.rewrite(&service("30d"))?;
    h.reload().await?;
    let s = h.service(SERVICE).await?;
    let at = s.cert_expiring_at.expect("expiring under the new warning");
    assert_eq!(at.seconds * 1000, in_ten_days);
    probes(&mut a, 1, in_ten_days).await?;
    let log = h
        .events_until(KIND, |b| b["not_after"] == rfc3339(in_ten_days))
        .await?;
    assert_eq!(warned(&log), [rfc3339(in_ten_days)]);
    Ok(())
}
