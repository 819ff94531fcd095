//! `GetService` shows the latest result of each agent that probes the
//! service, with the phases and the certificate expiry the agent reported.

use std::time::Duration;

use picket_e2e::inproc::{Harness, Outcome, Phases};

use crate::common::{SERVICE, one_service};

/// 2027-01-02T00:00:00Z.
const NOT_AFTER_MS: i64 = 1_798_848_000_000;

fn ms(n: f64) -> Duration {
    Duration::from_secs_f64(n / 1000.0)
}

/// Two agents report; the first twice. Each agent's latest result is
/// served with its own phases and the certificate expiry when known.
#[tokio::test(start_paused = true)]
async fn get_service_shows_each_agents_latest_result_with_phases() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let before = h.service(SERVICE).await?;
    assert!(before.latest.is_empty(), "no results, no latest");

    let mut paris = h.agent("edge-1", "eu").await?;
    let mut tokyo = h.agent("edge-2", "ap").await?;
    paris.assignment().await?;
    tokyo.assignment().await?;
    let measured = Phases {
        dns: ms(1.2),
        connect: ms(0.8),
        tls: ms(12.0),
        processing: ms(16.1),
        transfer: ms(2.0),
    };
    paris.report(SERVICE, &Outcome::status(503)).await?;
    paris
        .report(
            SERVICE,
            &Outcome::ok()
                .with_phases(measured, ms(32.1))
                .with_cert_expiry(NOT_AFTER_MS),
        )
        .await?;
    let reused = Phases {
        processing: ms(4.0),
        transfer: ms(1.0),
        ..Phases::default()
    };
    tokyo
        .report(SERVICE, &Outcome::status(503).with_phases(reused, ms(5.0)))
        .await?;

    let latest = h.service(SERVICE).await?.latest;
    let who: Vec<(&str, &str, bool)> = latest
        .iter()
        .map(|l| (l.agent.as_str(), l.region.as_str(), l.ok))
        .collect();
    assert_eq!(who, [("edge-1", "eu", true), ("edge-2", "ap", false)]);

    let p = latest[0].phases.expect("phases");
    let got = [
        p.dns_ms,
        p.connect_ms,
        p.tls_ms,
        p.processing_ms,
        p.transfer_ms,
    ];
    let want = [1.2, 0.8, 12.0, 16.1, 2.0];
    for (g, w) in got.iter().zip(want) {
        let g = g.expect("measured");
        assert!((g - w).abs() < 1e-9, "phases {got:?}, expected {want:?}");
    }
    let expiry = latest[0].cert_expires_at.expect("certificate expiry");
    assert_eq!(expiry.seconds * 1000, NOT_AFTER_MS);
    assert_eq!(latest[0].status_code, Some(200));

    let t = &latest[1];
    assert_eq!(
        (t.status_code, t.error_kind.as_str()),
        (Some(503), "http_status")
    );
    assert_eq!(t.error_detail, "HTTP 503");
    let p = t.phases.expect("phases");
    assert_eq!((p.dns_ms, p.connect_ms, p.tls_ms), (None, None, None));
    assert_eq!((p.processing_ms, p.transfer_ms), (Some(4.0), Some(1.0)));
    assert_eq!(t.cert_expires_at, None, "no certificate reported");
    Ok(())
}
