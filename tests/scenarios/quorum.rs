//! The quorum double-check across agents: one failing vantage point is a
//! local failure, two of three is an outage.

use std::time::Duration;

use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent};

use crate::common::{SERVICE, one_service};

const RECHECK_DELAY: Duration = Duration::from_secs(2);

/// Every agent answers the round it was ordered with the outcome given for it.
async fn round(
    h: &Harness,
    agents: &mut [ScriptedAgent],
    outcomes: &[Outcome],
) -> anyhow::Result<()> {
    h.advance(RECHECK_DELAY).await;
    let mut round = None;
    for (agent, outcome) in agents.iter_mut().zip(outcomes) {
        let order = agent.order().await?;
        assert_eq!(order.service, SERVICE);
        // Every agent is asked in the same round.
        assert_eq!(*round.get_or_insert(order.round_id), order.round_id);
        agent.answer(&order, outcome).await?;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn one_failing_agent_is_local_two_of_three_is_an_outage() -> anyhow::Result<()> {
    let h = Harness::start(&one_service().agents("agents_per_service", 3)).await?;
    let mut agents = Vec::new();
    for (name, region) in [("edge-1", "eu"), ("edge-2", "us"), ("edge-3", "ap")] {
        let mut a = h.agent(name, region).await?;
        assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()], "{name}");
        agents.push(a);
    }
    let (ok, bad) = (Outcome::ok(), Outcome::status(500));
    agents[0].report(SERVICE, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;

    // One vantage point fails: the round says local failure, of edge-1 only.
    agents[0].report(SERVICE, &bad).await?;
    h.wait_state(SERVICE, "suspect").await?;
    round(&h, &mut agents, &[bad.clone(), ok.clone(), ok.clone()]).await?;
    let local = h.await_event("service.local_failure", |_| true).await?;
    let failing: Vec<&str> = local["votes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["ok"] == false)
        .filter_map(|v| v["agent_name"].as_str())
        .collect();
    assert_eq!(failing, ["edge-1"], "{local}");
    let s = h.wait_state(SERVICE, "up").await?;
    assert_eq!(s.open_request, None);
    assert!(
        h.requests().await?.is_empty(),
        "a local failure opened a request"
    );

    // Two of three fail: a quorum, one request naming both.
    agents[1].report(SERVICE, &bad).await?;
    h.wait_state(SERVICE, "suspect").await?;
    round(&h, &mut agents, &[bad.clone(), bad.clone(), ok.clone()]).await?;
    let s = h
        .wait_service(SERVICE, "down with a request", |s| s.open_request.is_some())
        .await?;
    assert_eq!(s.state, "down");
    let requests = h.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let description = &requests[0].description;
    assert!(description.starts_with("HTTP 500"), "{description}");
    for name in ["edge-1", "edge-2"] {
        assert!(
            description.contains(&format!("- {name} (")),
            "{name} missing: {description}"
        );
    }

    // Everyone answers OK again: the request closes.
    agents[2].report(SERVICE, &ok).await?;
    round(&h, &mut agents, &[ok.clone(), ok.clone(), ok.clone()]).await?;
    let s = h.wait_state(SERVICE, "up").await?;
    assert_eq!(s.open_request, None);
    assert_eq!(h.request(requests[0].id).await?.close_reason, "recovered");
    Ok(())
}
