//! Maintenance mode: the equipment's services are not probed, show state
//! `maintenance` and open no request; the window ends by itself at its end
//! time, or by hand, and probing resumes at once.

use std::time::{Duration, Instant};

use picket_e2e::target::Target;
use picket_e2e::{DEADLINE, Seen, wait_until};

use crate::common::{EQUIPMENT, SERVICE, one_service, start};

/// A 3 s window on a failing target: no probe beyond one already in flight,
/// no request, state `maintenance`; it ends by itself at its end time (not
/// early, not at some later tick), then probing resumes and the failure is
/// seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_suppresses_probes_and_expires_by_itself() -> anyhow::Result<()> {
    const WINDOW: Duration = Duration::from_secs(3);
    let target = Target::http().await;
    let (c, _agent) = start(one_service(&target.url()), &[]).await?;
    c.wait_state(SERVICE, "up").await?;

    let started = Instant::now();
    let window = c
        .ctl(&[
            "maintenance",
            "start",
            EQUIPMENT,
            "--for",
            "3s",
            "--reason",
            "e2e window",
        ])
        .await?;
    assert!(
        window.is_object(),
        "maintenance start --json printed {window}"
    );
    c.wait_state(SERVICE, "maintenance").await?;
    target.set_status(500);
    // One probe may already have been in flight when the agent was told.
    let allowed = target.hits() + 1;

    let ended = wait_until(DEADLINE, "maintenance to end by itself", async || {
        // Read requests and hits before the state: if the state is still
        // `maintenance` afterwards, what was read happened during the window.
        let requests = c.requests().await?;
        let hits = target.hits();
        let service = c.service(SERVICE).await?;
        Ok::<_, anyhow::Error>(if service["state"] != "maintenance" {
            Seen::Ready(service)
        } else if !requests.is_empty() {
            Seen::Violated(format!("a request opened during maintenance: {requests:?}"))
        } else if hits > allowed {
            Seen::Violated(format!(
                "probed during maintenance: {hits} hits, at most {allowed} allowed"
            ))
        } else {
            Seen::Pending(service.to_string())
        })
    })
    .await?;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= WINDOW - Duration::from_millis(100),
        "maintenance ended after {elapsed:?}, before its end ({WINDOW:?}): {ended}"
    );
    assert!(
        elapsed <= WINDOW + Duration::from_secs(4),
        "maintenance ended after {elapsed:?}, long after its end ({WINDOW:?}): {ended}"
    );

    // Probing resumes at once, and the failing target is noticed.
    let hits = target.hits();
    wait_until(DEADLINE, "probes to resume after maintenance", async || {
        target.hits() >= hits + 2
    })
    .await?;
    c.wait_service(SERVICE, "down after maintenance on a failing target", |s| {
        s["state"] == "down"
    })
    .await?;
    Ok(())
}

/// `maintenance end` by hand ends the window (the default duration is an
/// hour here), and the service is probed and `up` again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_ends_by_hand() -> anyhow::Result<()> {
    let target = Target::http().await;
    let config = one_service(&target.url()).maintenance("default_duration", "1h");
    let (c, _agent) = start(config, &[]).await?;
    c.wait_state(SERVICE, "up").await?;

    c.ctl(&["maintenance", "start", EQUIPMENT]).await?;
    c.wait_state(SERVICE, "maintenance").await?;
    // Still in maintenance two probe intervals later, without probes.
    let allowed = target.hits() + 1;
    let held_from = Instant::now();
    wait_until(DEADLINE, "2 s of maintenance without probes", async || {
        let hits = target.hits();
        let service = c.service(SERVICE).await?;
        Ok::<_, anyhow::Error>(if service["state"] != "maintenance" {
            Seen::Violated(format!("maintenance ended by itself: {service}"))
        } else if hits > allowed {
            Seen::Violated(format!(
                "probed during maintenance: {hits} hits, at most {allowed}"
            ))
        } else if held_from.elapsed() >= Duration::from_secs(2) {
            Seen::Ready(())
        } else {
            Seen::Pending(service.to_string())
        })
    })
    .await?;

    c.ctl(&["maintenance", "end", EQUIPMENT]).await?;
    let hits = target.hits();
    c.wait_service(SERVICE, "out of maintenance after `maintenance end`", |s| {
        s["state"] != "maintenance"
    })
    .await?;
    wait_until(
        DEADLINE,
        "probes to resume after `maintenance end`",
        async || target.hits() >= hits + 2,
    )
    .await?;
    c.wait_state(SERVICE, "up").await?;
    let requests = c.requests().await?;
    assert!(requests.is_empty(), "{requests:?}");
    Ok(())
}
