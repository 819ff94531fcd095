//! `GetService` shows the latest result of each agent that probes the
//! service, with the phases and the certificate expiry the agent reported.

use picket_e2e::inproc::{Harness, Outcome, Phases};

use crate::common::{NOT_AFTER_MS, SERVICE, ms, one_service, two_agents_one_measured};

/// Two agents report; the first twice. Each agent's latest result is
/// served with its own phases and the certificate expiry when known.
#[tokio::test(start_paused = true)]
async fn get_service_shows_each_agents_latest_result_with_phases() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let before = h.service(SERVICE).await?;
    assert!(before.latest.is_empty(), "no results, no latest");

    let (_paris, mut tokyo, _) = two_agents_one_measured(&h).await?;
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
