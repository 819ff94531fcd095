//! `GetService` carries the service's history from the rollups: uptime
//! windows and 90 daily bars, built as results are stored.

use picket_e2e::inproc::{Harness, Outcome};

use crate::common::{SERVICE, one_service};

/// Three probes, one failing: every window shows 2/3, today's bar counts
/// them, and the other 89 days are empty.
#[tokio::test(start_paused = true)]
async fn get_service_returns_uptimes_and_daily_bars() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let listed = h.service(SERVICE).await?;
    let before = listed.history.expect("GetService sets the history");
    assert_eq!(before.uptime_24h, None, "no probes, no uptime");
    assert_eq!(before.daily.len(), 90);

    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    a.report(SERVICE, &Outcome::ok()).await?;
    a.report(SERVICE, &Outcome::status(503)).await?;
    a.report(SERVICE, &Outcome::ok()).await?;

    let history = h.service(SERVICE).await?.history.expect("history");
    for uptime in [history.uptime_24h, history.uptime_7d, history.uptime_30d] {
        assert_eq!(uptime, Some(2.0 / 3.0));
    }
    let latency = history.latency_24h.expect("successful probes");
    assert_eq!(latency.count, 2);
    assert_eq!((latency.min_ms, latency.max_ms), (1.5, 1.5));
    let today = history.daily.last().expect("90 bars");
    assert_eq!((today.probes, today.failures), (3, 1));
    assert_eq!(
        history.daily.iter().filter(|d| d.probes > 0).count(),
        1,
        "only today has probes"
    );
    Ok(())
}
