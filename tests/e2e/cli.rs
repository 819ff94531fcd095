//! picketctl's live commands end to end, through the real binaries:
//! `check SERVICE` prints each agent's fresh result with its phases and
//! certificate expiry; `events --follow` prints events as they happen and
//! resumes after the last one it printed when the collector restarts.

use picket_e2e::follow::Follower;
use picket_e2e::target::{Target, TestCa, TlsMode};
use picket_e2e::{Agent, Collector, DEADLINE, parse_time};
use serde_json::Value;

use crate::common::{EQUIPMENT, SERVICE, one_service};

/// The sequence numbers of `events`, in the order printed.
fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().filter_map(|e| e["seq"].as_u64()).collect()
}

#[tokio::test]
async fn events_follow_resumes_after_a_restart_and_a_crash() -> anyhow::Result<()> {
    let target = Target::http().await;
    let mut c = Collector::start(one_service(&target.url())).await?;
    let mut follow = Follower::start(&c, 0)?;
    let mut printed = Vec::new();

    c.ctl(&["maintenance", "start", EQUIPMENT, "--for", "1h"])
        .await?;
    printed.extend(follow.until("maintenance.started", DEADLINE).await?);

    // A clean restart ends the stream; the follower reconnects by itself.
    c.restart().await?;
    c.ctl(&["maintenance", "end", EQUIPMENT]).await?;
    printed.extend(follow.until("maintenance.ended", DEADLINE).await?);

    // A crash cuts it; the follower resumes again.
    c.kill();
    c.start_again().await?;
    c.ctl(&["maintenance", "start", EQUIPMENT, "--for", "1h"])
        .await?;
    printed.extend(follow.until("maintenance.started", DEADLINE).await?);

    assert!(follow.is_running(), "stderr: {}", follow.stderr());
    let stderr = follow.stderr();
    assert!(
        stderr.matches("reconnecting").count() >= 2,
        "it did not say it reconnected after each restart: {stderr}"
    );

    // Exactly the log, in order: nothing skipped, nothing printed twice.
    let log = c.ctl(&["events"]).await?;
    let log = log.as_array().cloned().unwrap_or_default();
    assert_eq!(
        seqs(&printed),
        seqs(&log),
        "printed {printed:?}\nlog {log:?}"
    );
    let kinds: Vec<&str> = printed.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds
            .iter()
            .copied()
            .filter(|k| k.starts_with("maintenance."))
            .collect::<Vec<_>>(),
        [
            "maintenance.started",
            "maintenance.ended",
            "maintenance.started"
        ],
        "{kinds:?}"
    );

    // Started after a seq, it prints only what follows it.
    let from = seqs(&printed)[0];
    let mut late = Follower::start(&c, from)?;
    let first = late.next(DEADLINE).await?;
    assert_eq!(first["seq"].as_u64(), Some(seqs(&printed)[1]), "{first}");
    Ok(())
}

#[tokio::test]
async fn check_prints_each_agents_fresh_result_with_phases() -> anyhow::Result<()> {
    let ca = TestCa::new();
    let target = Target::https(&ca, TlsMode::Valid).await;
    let c = Collector::start(one_service(&target.url())).await?;
    let ca_pem = ca.write_pem(c.dir());
    let _eu = Agent::start_with_ca(&c, "eu", "edge-eu", &ca_pem)?;
    let _us = Agent::start_with_ca(&c, "us", "edge-us", &ca_pem)?;
    c.wait_agent_live("edge-eu").await?;
    c.wait_agent_live("edge-us").await?;
    // Both have the check once they have probed it.
    c.wait_service(SERVICE, "up", |s| s["state"] == "up")
        .await?;

    let hits = target.hits();
    let asked = std::time::SystemTime::now();
    let results = c.ctl(&["check", SERVICE]).await?;
    let results = results.as_array().cloned().unwrap_or_default();
    assert!(
        target.hits() >= hits + 2,
        "check did not probe from both agents"
    );
    let mut agents: Vec<&str> = results.iter().filter_map(|r| r["agent"].as_str()).collect();
    agents.sort_unstable();
    assert_eq!(agents, ["edge-eu", "edge-us"], "{results:?}");
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["status_code"], 200, "{r}");
        let at = parse_time(&r["time"]).unwrap_or(std::time::UNIX_EPOCH);
        assert!(
            at + std::time::Duration::from_secs(2) >= asked,
            "not a fresh result: {r}"
        );
        assert_eq!(
            r["region"],
            r["agent"].as_str().map(|a| &a[5..]).unwrap_or(""),
            "{r}"
        );
        for phase in ["connect_ms", "tls_ms", "processing_ms", "transfer_ms"] {
            assert!(r[phase].is_number(), "{phase} missing: {r}");
        }
        // An IP literal needs no DNS lookup; a new TLS handshake takes time.
        assert!(r["dns_ms"].is_null(), "{r}");
        assert!(r["tls_ms"].as_f64() > Some(0.0), "{r}");
        // rcgen's default notAfter: 4096-01-01T00:00:00Z.
        let expiry = parse_time(&r["cert_expires_at"])
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        assert_eq!(expiry.map(|d| d.as_secs()), Some(67_090_118_400), "{r}");
    }

    // The table shows one row per agent with the phases.
    let table = picket_e2e::ctl_raw(&c, &["check", SERVICE]).await?;
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    let header = table.stdout.lines().next().unwrap_or_default();
    assert!(header.contains("PHASES"), "{}", table.stdout);
    for agent in ["edge-eu", "edge-us"] {
        let row = table
            .stdout
            .lines()
            .find(|l| l.starts_with(agent))
            .unwrap_or_else(|| panic!("no row for {agent}: {}", table.stdout));
        assert!(row.contains("tls ") && row.contains("4096-01-01"), "{row}");
    }
    Ok(())
}
