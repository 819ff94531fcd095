//! Maintenance windows: no probes, no requests, state `maintenance`; the
//! window ends exactly at its end time, or by hand.

use std::time::Duration;

use picket_e2e::inproc::{Harness, Outcome, epoch_ms};

use crate::common::{SERVICE, one_service};

const HOUR: Duration = Duration::from_secs(3600);

/// Heartbeats every 2 h: the agent stays live across an hour of paused
/// time without the test sending any.
fn quiet_agents() -> picket_e2e::Config {
    one_service().agents("heartbeat_interval", "2h")
}

#[tokio::test(start_paused = true)]
async fn maintenance_suppresses_probes_and_expires_at_its_end() -> anyhow::Result<()> {
    let h = Harness::start(&quiet_agents()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
    a.report(SERVICE, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;

    let window = h.start_maintenance("web-1", HOUR).await?;
    assert!(window.active);
    assert!(
        a.assignment().await?.is_empty(),
        "the check was not taken away"
    );
    h.wait_state(SERVICE, "maintenance").await?;
    let started = h.await_event("maintenance.started", |_| true).await?;
    assert_eq!(started["equipment_id"], "web-1", "{started}");

    // A result from a probe that was in flight is stored but starts no
    // round: no order came by the time the window ends (a round it had
    // started would have ordered its recheck 2 s in, long before).
    a.report(SERVICE, &Outcome::status(503)).await?;
    h.wait_service(SERVICE, "the 503 stored", |s| {
        s.last_status_code == Some(503)
    })
    .await?;
    h.advance(HOUR - Duration::from_secs(1)).await;
    assert_eq!(
        h.service(SERVICE).await?.state,
        "maintenance",
        "ended early"
    );

    // It ends at its end time: the check comes back, the state is unknown
    // until the next verdict, and a failure is double-checked as usual.
    h.advance(Duration::from_secs(1)).await;
    h.await_event("maintenance.ended", |b| b["equipment_id"] == "web-1")
        .await?;
    assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
    h.wait_state(SERVICE, "unknown").await?;
    assert!(!a.has_order(), "a recheck was ordered during maintenance");
    a.report(SERVICE, &Outcome::status(503)).await?;
    h.wait_state(SERVICE, "suspect").await?;
    h.advance(Duration::from_secs(2)).await;
    let order = a.order().await?;
    a.answer(&order, &Outcome::status(503)).await?;
    h.wait_service(SERVICE, "down with a request", |s| s.open_request.is_some())
        .await?;
    assert_eq!(h.requests().await?.len(), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn maintenance_ends_by_hand() -> anyhow::Result<()> {
    let h = Harness::start(&quiet_agents().maintenance("default_duration", "1h")).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let at = h.now_ms();
    let window = h.start_maintenance("web-1", HOUR).await?;
    assert_eq!(
        (
            epoch_ms(window.starts_at.as_ref()),
            epoch_ms(window.ends_at.as_ref())
        ),
        (Some(at), Some(at + 3_600_000)),
        "started now on the collector's clock, for an hour"
    );
    assert!(a.assignment().await?.is_empty());
    h.wait_state(SERVICE, "maintenance").await?;

    h.advance(Duration::from_secs(60)).await;
    let ended = h.end_maintenance("web-1").await?;
    assert!(!ended.active);
    assert_eq!(
        epoch_ms(ended.ends_at.as_ref()),
        Some(at + 60_000),
        "ended by hand, a minute after it started: {ended:?}"
    );
    h.await_event("maintenance.ended", |_| true).await?;
    assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
    a.report(SERVICE, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;
    Ok(())
}
