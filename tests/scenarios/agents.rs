//! Agents: approval, suspension and the dead-man's switch, on the paused
//! clock (heartbeat every 10 s, three missed make an agent dead).

use std::time::Duration;

use picket_e2e::inproc::{Harness, ScriptedAgent, epoch_ms};

use crate::common::{SERVICE, one_service};

const HEARTBEAT: Duration = Duration::from_secs(10);

/// Has `alive` heartbeat, then moves the clock one heartbeat interval. It
/// waits until the collector has recorded each heartbeat (its number in the
/// agent's stats, last seen at the paused time it was sent), so the clock
/// never moves past a deadline while a heartbeat is still on its way.
pub(crate) async fn beat(h: &Harness, alive: &mut [&mut ScriptedAgent]) -> anyhow::Result<()> {
    for a in alive {
        let sent = (Some(h.now_ms()), a.heartbeat().await?);
        h.wait_agent(a.id(), "the heartbeat recorded", |agent| {
            last_heartbeat(agent) == sent
        })
        .await?;
    }
    h.advance(HEARTBEAT).await;
    Ok(())
}

/// When the agent was last seen (epoch ms) and the number of the last
/// heartbeat recorded (0 before the first).
fn last_heartbeat(agent: &picket_proto::v1::Agent) -> (Option<i64>, u64) {
    let seen = epoch_ms(agent.last_seen.as_ref());
    let number = serde_json::from_str::<serde_json::Value>(&agent.stats_json)
        .ok()
        .and_then(|stats| stats["uptime_s"].as_u64())
        .unwrap_or(0);
    (seen, number)
}

/// The `[AGENT DOWN]` requests opened so far, by agent id.
pub(crate) async fn agent_requests(h: &Harness) -> anyhow::Result<Vec<String>> {
    Ok(h.requests()
        .await?
        .into_iter()
        .filter(|r| r.kind == "agent")
        .filter_map(|r| r.agent)
        .collect())
}

/// An agent silent for three heartbeat intervals is dead: one
/// `[AGENT DOWN] name` request, `agent.down`, and its check moves to the
/// other agent of the region. Heard from again: `agent.up`, the request
/// closed as `recovered` by `picket`, and the check comes back.
#[tokio::test(start_paused = true)]
async fn a_silent_agent_is_declared_dead_and_its_checks_move() -> anyhow::Result<()> {
    let h = Harness::start(&one_service().agents("agents_per_service", 1)).await?;
    let mut a1 = h.agent("edge-1", "eu").await?;
    assert_eq!(a1.assignment().await?, vec![SERVICE.to_owned()]);
    let mut a2 = h.agent("edge-2", "eu").await?;
    assert!(
        a2.assignment().await?.is_empty(),
        "the idle agent got a check"
    );

    // Both heartbeat for a while (the last at 20 s), then edge-1 falls
    // silent. At 40 s it is still within its 30 s window: not dead.
    for _ in 0..3 {
        beat(&h, &mut [&mut a1, &mut a2]).await?;
    }
    beat(&h, &mut [&mut a2]).await?;
    let live = h.wait_agent(a1.id(), "edge-1 listed", |_| true).await?;
    assert_eq!(live.liveness, "live", "dead before its window passed");
    assert!(
        agent_requests(&h).await?.is_empty(),
        "dead before its window passed"
    );

    // At 50 s the window has passed.
    beat(&h, &mut [&mut a2]).await?;
    let opened = h
        .await_event("request.opened", |b| b["kind"] == "agent")
        .await?;
    assert_eq!(opened["name"], "[AGENT DOWN] edge-1", "{opened}");
    assert_eq!(opened["agent"]["id"], a1.id(), "{opened}");
    let down = h.await_event("agent.down", |_| true).await?;
    assert_eq!(down["agent"]["id"], a1.id(), "{down}");
    assert_eq!(
        a2.assignment().await?,
        vec![SERVICE.to_owned()],
        "the check did not move"
    );
    assert!(
        a1.assignment().await?.is_empty(),
        "the dead agent kept its check"
    );
    h.wait_agent(a1.id(), "edge-1 dead", |a| a.liveness == "dead")
        .await?;

    // Back: its request closes by itself and the check returns.
    a1.heartbeat().await?;
    let id = opened["id"].as_i64().expect("an integer id");
    let closed = h.await_event("request.closed", |b| b["id"] == id).await?;
    assert_eq!(closed["close_reason"], "recovered", "{closed}");
    h.await_event("agent.up", |b| b["agent"]["id"] == a1.id())
        .await?;
    let request = h.request(id).await?;
    let note = request.notes.last().expect("a closing note");
    let now = h.now_ms();
    assert_eq!(
        (note.author.as_str(), epoch_ms(note.time.as_ref())),
        ("picket", Some(now)),
        "written by picket when the agent was heard from"
    );
    assert_eq!(
        note.text,
        format!(
            "closed automatically: agent edge-1 ({}) is back, heard from at {}",
            a1.id(),
            picket_collector::time::rfc3339(now)
        )
    );
    assert_eq!(a1.assignment().await?, vec![SERVICE.to_owned()]);
    assert!(a2.assignment().await?.is_empty());
    assert_eq!(
        agent_requests(&h).await?,
        [a1.id().to_owned()],
        "one request, no second"
    );
    Ok(())
}

/// Without auto-approval a new agent gets no checks until approved;
/// suspended, it loses them and raises no alert when it falls silent.
#[tokio::test(start_paused = true)]
async fn approval_gives_checks_and_a_suspended_agent_raises_no_alert() -> anyhow::Result<()> {
    let h = Harness::start(&one_service().agents("auto_approve", false)).await?;
    let mut a1 = h.agent("edge-1", "eu").await?;
    assert_eq!(a1.state, "new");
    assert!(a1.assignment().await?.is_empty(), "a new agent got checks");
    let approved = h.approve(a1.id()).await?;
    assert_eq!(approved.state, "active");
    assert_eq!(a1.assignment().await?, vec![SERVICE.to_owned()]);

    let suspended = h.suspend(a1.id()).await?;
    assert_eq!(suspended.state, "suspended");
    assert!(
        a1.assignment().await?.is_empty(),
        "a suspended agent kept its check"
    );

    // A control: an active agent that falls silent a second later than
    // edge-1 does is declared dead; by then edge-1's deadline, had it one,
    // has passed (and fired first: it is strictly earlier).
    h.advance(Duration::from_secs(1)).await;
    let mut a2 = h.agent("edge-2", "eu").await?;
    h.approve(a2.id()).await?;
    a2.assignment().await?;
    for _ in 0..4 {
        beat(&h, &mut []).await?;
    }
    h.await_event("agent.down", |b| b["agent"]["id"] == a2.id())
        .await?;
    assert_eq!(
        agent_requests(&h).await?,
        [a2.id().to_owned()],
        "the suspended agent raised an alert"
    );
    Ok(())
}

/// A collector restart raises no wave of alerts: agents that reconnect
/// within the settle window (heartbeat window + their 30 s backoff cap) are
/// never declared dead, and one that never comes back is, once.
#[tokio::test(start_paused = true)]
async fn a_collector_restart_raises_no_agent_down_alerts() -> anyhow::Result<()> {
    let mut h = Harness::start(&one_service().agents("agents_per_service", 3)).await?;
    let mut a1 = h.agent("edge-1", "eu").await?;
    let mut a2 = h.agent("edge-2", "us").await?;
    let a3 = h.agent("edge-3", "ap").await?;
    let ids = [a1.identity().clone(), a2.identity().clone()];

    h.stop().await?;
    a1.closed().await?;
    a2.closed().await?;
    drop(a3);
    // Down for more than a heartbeat window.
    h.advance(Duration::from_secs(40)).await;
    h.restart().await?;

    // The agents come back deep in their backoff, but inside the window.
    h.advance(Duration::from_secs(25)).await;
    let mut a1 = h
        .reconnect(&ids[0])
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    h.advance(Duration::from_secs(20)).await;
    let mut a2 = h
        .reconnect(&ids[1])
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    // edge-3 never does: dead once the settle window (60 s) has passed.
    for _ in 0..2 {
        beat(&h, &mut [&mut a1, &mut a2]).await?;
    }
    let down = h.await_event("agent.down", |_| true).await?;
    assert_eq!(down["agent"]["name"], "edge-3", "{down}");

    // Seven more heartbeats, then edge-2 falls silent: it is the next and
    // only other agent declared dead.
    for _ in 0..7 {
        beat(&h, &mut [&mut a1, &mut a2]).await?;
    }
    for _ in 0..4 {
        beat(&h, &mut [&mut a1]).await?;
    }
    h.await_event("agent.down", |b| b["agent"]["name"] == "edge-2")
        .await?;
    let mut names: Vec<String> = h
        .requests()
        .await?
        .into_iter()
        .filter(|r| r.kind == "agent")
        .map(|r| r.name)
        .collect();
    names.sort();
    assert_eq!(names, ["[AGENT DOWN] edge-2", "[AGENT DOWN] edge-3"]);
    Ok(())
}
