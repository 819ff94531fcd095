//! Degraded vantage points: one region failing a service for an hour while
//! the others succeed shows as `degraded` naming its agent, with one
//! `service.degraded` event and no request, and ends when it recovers.

use std::time::Duration;

use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent};

use crate::agents::beat;
use crate::common::{SERVICE, one_service};

const RECHECK_DELAY: Duration = Duration::from_secs(2);

/// Every agent answers the round it was ordered with its outcome.
async fn round(
    h: &Harness,
    agents: &mut [ScriptedAgent],
    outcomes: &[&Outcome],
) -> anyhow::Result<()> {
    h.advance(RECHECK_DELAY).await;
    for (agent, outcome) in agents.iter_mut().zip(outcomes) {
        let order = agent.order().await?;
        assert_eq!(order.service, SERVICE);
        agent.answer(&order, outcome).await?;
    }
    Ok(())
}

/// A probe interval passes, the agents heartbeating all along (each
/// heartbeat recorded before the clock moves on).
async fn interval(h: &Harness, agents: &mut [ScriptedAgent]) -> anyhow::Result<()> {
    for _ in 0..6 {
        let mut alive: Vec<&mut ScriptedAgent> = agents.iter_mut().collect();
        beat(h, &mut alive).await?;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn one_region_failing_for_an_hour_is_degraded_naming_its_agent_without_a_request()
-> anyhow::Result<()> {
    let h = Harness::start(&one_service().agents("agents_per_service", 3)).await?;
    let mut agents = Vec::new();
    for (name, region) in [("edge-ap", "ap"), ("edge-eu-1", "eu"), ("edge-eu-2", "eu")] {
        let mut a = h.agent(name, region).await?;
        assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()], "{name}");
        agents.push(a);
    }
    let (ok, bad) = (Outcome::ok(), Outcome::refused());
    agents[1].report(SERVICE, &ok).await?;
    h.wait_state(SERVICE, "up").await?;

    // degraded_after = 3 (the default): two local rounds leave it up, the
    // third makes it degraded.
    for n in 1..=3 {
        agents[0].report(SERVICE, &bad).await?;
        h.wait_state(SERVICE, "suspect").await?;
        round(&h, &mut agents, &[&bad, &ok, &ok]).await?;
        let want = if n < 3 { "up" } else { "degraded" };
        h.wait_state(SERVICE, want).await?;
        interval(&h, &mut agents).await?;
    }
    let s = h.service(SERVICE).await?;
    assert!(s.degraded_since.is_some(), "{s:?}");
    let named: Vec<(&str, &str, &str)> = s
        .degraded_agents
        .iter()
        .map(|a| (a.name.as_str(), a.region.as_str(), a.error.as_str()))
        .collect();
    assert_eq!(named.len(), 1, "{s:?}");
    assert_eq!((named[0].0, named[0].1), ("edge-ap", "ap"));
    assert!(!named[0].2.is_empty(), "the last error label: {s:?}");
    assert_eq!(s.degraded_agents[0].agent_id, agents[0].id());

    // The rest of the hour: ap keeps failing, eu keeps succeeding; its
    // failures start no round (an unanswered round would leave `degraded`).
    for _ in 3..60 {
        agents[0].report(SERVICE, &bad).await?;
        agents[1].report(SERVICE, &ok).await?;
        agents[2].report(SERVICE, &ok).await?;
        interval(&h, &mut agents).await?;
        assert!(
            !agents[1].has_order(),
            "a failure of a degraded agent started a round"
        );
    }
    let s = h.wait_state(SERVICE, "degraded").await?;
    assert_eq!(s.open_request, None);

    // ap recovers: the degradation ends, the service is up.
    agents[0].report(SERVICE, &ok).await?;
    h.wait_state(SERVICE, "up").await?;
    let log = h
        .events_until("service.degraded_ended", |b| b["id"] == SERVICE)
        .await?;
    let degraded: Vec<_> = log
        .iter()
        .filter(|(kind, _)| kind == "service.degraded")
        .collect();
    assert_eq!(degraded.len(), 1, "exactly one service.degraded: {log:?}");
    let agents_json = &degraded[0].1["agents"];
    assert_eq!(agents_json[0]["name"], "edge-ap", "{agents_json}");
    assert_eq!(agents_json[0]["region"], "ap", "{agents_json}");
    assert!(
        log.iter().all(|(kind, _)| kind != "request.opened"),
        "a degraded service opened a request: {log:?}"
    );
    assert!(h.requests().await?.is_empty());
    assert!(h.service(SERVICE).await?.degraded_agents.is_empty());
    Ok(())
}

/// Three agents, `edge-ap` failing below the quorum until the service is
/// `degraded` naming it.
pub async fn degraded_by_ap() -> anyhow::Result<(Harness, Vec<ScriptedAgent>)> {
    let h = Harness::start(&one_service().agents("agents_per_service", 3)).await?;
    let mut agents = Vec::new();
    for (name, region) in [("edge-ap", "ap"), ("edge-eu-1", "eu"), ("edge-eu-2", "eu")] {
        let mut a = h.agent(name, region).await?;
        assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()], "{name}");
        agents.push(a);
    }
    let (ok, bad) = (Outcome::ok(), Outcome::refused());
    agents[1].report(SERVICE, &ok).await?;
    h.wait_state(SERVICE, "up").await?;
    for _ in 0..3 {
        agents[0].report(SERVICE, &bad).await?;
        h.wait_state(SERVICE, "suspect").await?;
        round(&h, &mut agents, &[&bad, &ok, &ok]).await?;
        interval(&h, &mut agents).await?;
    }
    h.wait_state(SERVICE, "degraded").await?;
    Ok((h, agents))
}

#[tokio::test(start_paused = true)]
async fn muting_the_failing_agent_ends_the_degradation_and_its_failures_start_no_round()
-> anyhow::Result<()> {
    let (h, mut agents) = degraded_by_ap().await?;
    let ap = agents[0].id().to_owned();

    // Out of range or unknown: refused, saying what is wrong.
    let short = h.mute(&ap, Duration::from_secs(30), "").await;
    let err = short.err().map(|s| (s.code(), s.message().to_owned()));
    assert_eq!(
        err.as_ref().map(|e| e.0),
        Some(tonic::Code::InvalidArgument)
    );
    assert!(err.is_some_and(|e| e.1.contains("1m to 30d")));
    let long = h.mute(&ap, Duration::from_secs(31 * 86_400), "").await;
    assert_eq!(
        long.err().map(|s| s.code()),
        Some(tonic::Code::InvalidArgument)
    );
    let unknown = h.mute("no-such-agent", Duration::from_secs(3600), "").await;
    let err = unknown.err().map(|s| (s.code(), s.message().to_owned()));
    assert_eq!(err.as_ref().map(|e| e.0), Some(tonic::Code::NotFound));
    assert!(err.is_some_and(|e| e.1.contains("no-such-agent")));

    let muted = h
        .mute(&ap, Duration::from_secs(3600), "ap transit work")
        .await?;
    assert_eq!(muted.mute_note, "ap transit work");
    assert_eq!(
        picket_e2e::inproc::epoch_ms(muted.muted_until.as_ref()),
        Some(h.now_ms() + 3_600_000)
    );
    h.wait_state(SERVICE, "up").await?;
    let log = h.events_until("service.degraded_ended", |_| true).await?;
    assert!(
        log.iter()
            .any(|(kind, b)| kind == "agent.muted" && b["mute_note"] == "ap transit work"),
        "{log:?}"
    );

    // Its failures alone start no round: the service stays up, no order.
    for _ in 0..5 {
        agents[0].report(SERVICE, &Outcome::refused()).await?;
        interval(&h, &mut agents).await?;
        assert!(
            !agents[1].has_order(),
            "a muted agent's failure started a round"
        );
    }
    assert_eq!(h.service(SERVICE).await?.state, "up");

    let unmuted = h.unmute(&ap).await?;
    assert_eq!(unmuted.muted_until, None);
    h.await_event("agent.unmuted", |b| b["agent"]["id"] == ap.as_str())
        .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_mute_survives_a_restart_and_ends_by_itself_at_its_end_time() -> anyhow::Result<()> {
    let mut h = Harness::start(&one_service()).await?;
    let mut agent = h.agent("edge-ap", "ap").await?;
    let id = agent.id().to_owned();
    let muted = h.mute(&id, Duration::from_secs(600), "").await?;
    let until = picket_e2e::inproc::epoch_ms(muted.muted_until.as_ref());
    h.restart().await?;
    agent.closed().await?;
    let mut agent = h
        .reconnect(&agent.identity().clone())
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    let listed = h.agents().await?;
    let after = listed.iter().find(|a| a.id == id).map(|a| a.muted_until);
    assert_eq!(
        after.map(|t| picket_e2e::inproc::epoch_ms(t.as_ref())),
        Some(until),
        "the mute did not survive the restart"
    );
    for _ in 0..11 {
        interval(&h, std::slice::from_mut(&mut agent)).await?;
    }
    h.await_event("agent.unmuted", |b| b["agent"]["id"] == id.as_str())
        .await?;
    h.wait_agent(&id, "unmuted", |a| a.muted_until.is_none())
        .await?;
    Ok(())
}

/// A restart keeps a degradation: the failing agent's streak resumes from
/// the store, so its next failures start no round and the service stays
/// `degraded` (no `service.degraded_ended`, no second `service.degraded`)
/// until it succeeds.
#[tokio::test(start_paused = true)]
async fn a_degradation_survives_a_restart_until_its_agent_succeeds() -> anyhow::Result<()> {
    let (mut h, agents) = degraded_by_ap().await?;
    let identities: Vec<_> = agents.iter().map(|a| a.identity().clone()).collect();
    drop(agents);
    h.restart().await?;
    let mut agents = Vec::new();
    for identity in &identities {
        let mut a = h
            .reconnect(identity)
            .await?
            .map_err(|r| anyhow::anyhow!("{r}"))?;
        assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
        agents.push(a);
    }
    let (ok, bad) = (Outcome::ok(), Outcome::refused());
    for _ in 0..3 {
        agents[0].report(SERVICE, &bad).await?;
        agents[1].report(SERVICE, &ok).await?;
        interval(&h, &mut agents).await?;
        assert!(
            !agents[1].has_order(),
            "a failure of the degraded agent started a round after the restart"
        );
    }
    let s = h.wait_state(SERVICE, "degraded").await?;
    assert_eq!(s.degraded_agents.len(), 1, "{s:?}");
    assert_eq!(s.degraded_agents[0].agent_id, agents[0].id());

    agents[0].report(SERVICE, &ok).await?;
    h.wait_state(SERVICE, "up").await?;
    let log = h
        .events_until("service.degraded_ended", |b| b["id"] == SERVICE)
        .await?;
    let count = |t: &str| log.iter().filter(|(kind, _)| kind == t).count();
    assert_eq!(
        (count("service.degraded"), count("service.degraded_ended")),
        (1, 1),
        "{log:?}"
    );
    Ok(())
}
