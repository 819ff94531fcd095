//! The quorum double-check across three agents in three regions: a failure
//! seen from one source only is that agent's local failure (no request);
//! seen from two of three it is an outage (exactly one request), and
//! recovery closes it.

use std::net::IpAddr;

use picket_e2e::target::Target;
use picket_e2e::{DEADLINE, Seen, wait_until};
use serde_json::Value;

use crate::agents::{FLEET, Member, events_of, fleet_config, start_fleet};
use crate::common::{SERVICE, assert_open_http_ko, is_down_with_request, open_request};

/// Probes from `ip` the target answered (at least) since `from` hits.
fn gained(target: &Target, ip: IpAddr, from: u64) -> u64 {
    target.hits_from(ip) - from
}

/// Whether a `service.local_failure` event names `agent` as failing and no
/// agent of `ok_agents` as failing.
fn names_failing(event: &Value, agent: &str, ok_agents: &[&str]) -> Result<bool, String> {
    let votes = event["payload"]["votes"]
        .as_array()
        .ok_or_else(|| format!("local_failure without a votes list: {event}"))?;
    let failed = |v: &Value| v["ok"] == false;
    if let Some(v) = votes
        .iter()
        .find(|v| failed(v) && ok_agents.iter().any(|a| v["agent"] == *a))
    {
        return Err(format!(
            "local_failure names an agent that saw 200 as failing: {v} in {event}"
        ));
    }
    Ok(votes.iter().any(|v| failed(v) && v["agent"] == agent))
}

/// One failing source (127.0.0.2 gets 500): several rounds, each a
/// `service.local_failure` of that agent, never a request, never `down`,
/// and the service back `up`. Then a second failing source (127.0.0.3):
/// two of three is a quorum, so exactly one `[HTTP KO]` request, kept the
/// only one while it goes on failing; clearing the failures closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_source_is_local_two_of_three_is_an_outage() -> anyhow::Result<()> {
    let target = Target::http().await;
    let url = target.url();
    let (c, _agents, ids) = start_fleet(fleet_config(&url), &FLEET).await?;
    let ips: Vec<IpAddr> = FLEET.iter().map(Member::ip).collect();
    wait_until(DEADLINE, "all three agents probing", async || {
        ips.iter().all(|ip| target.hits_from(*ip) >= 1)
    })
    .await?;
    c.wait_state(SERVICE, "up").await?;

    // -- One failing source: local failures only. --------------------------
    let (bad, good) = (ips[0], [ids[1].as_str(), ids[2].as_str()]);
    let bad_from = target.hits_from(bad);
    target.fail_from(&[bad], 500);
    let mut local_failures = 0;
    wait_until(
        DEADLINE + DEADLINE,
        "4 failing probes from 127.0.0.2 and 2 local failures naming it, no request",
        async || {
            let requests = c.requests().await?;
            let service = c.service(SERVICE).await?;
            if !requests.is_empty() {
                return Ok::<_, anyhow::Error>(Seen::Violated(format!(
                    "one failing source of three opened a request: {requests:?}"
                )));
            }
            if service["state"] == "down" {
                return Ok(Seen::Violated(format!(
                    "one failing source of three took the service down: {service}"
                )));
            }
            let events = events_of(&c, "service.local_failure", SERVICE).await?;
            local_failures = 0;
            for e in &events {
                match names_failing(e, &ids[0], &good) {
                    Ok(true) => local_failures += 1,
                    Ok(false) => {}
                    Err(why) => return Ok(Seen::Violated(why)),
                }
            }
            let failing = gained(&target, bad, bad_from);
            Ok(if local_failures >= 2 && failing >= 4 {
                Seen::Ready(())
            } else {
                Seen::Pending(format!(
                    "{failing} failing probes, {local_failures} local failures naming \
                     127.0.0.2 ({} in all); service {service}",
                    events.len()
                ))
            })
        },
    )
    .await?;
    assert!(local_failures >= 2);
    // Between rounds the service is `up` again (it may be `suspect` while a
    // round runs, never `down`).
    let up = wait_until(
        DEADLINE,
        "service up between local-failure rounds",
        async || {
            let s = c.service(SERVICE).await?;
            Ok::<_, anyhow::Error>(if s["state"] == "down" || !s["open_request"].is_null() {
                Seen::Violated(format!("down on one failing source of three: {s}"))
            } else if s["state"] == "up" {
                Seen::Ready(s)
            } else {
                Seen::Pending(s.to_string())
            })
        },
    )
    .await?;
    assert!(up["open_request"].is_null(), "{up}");
    assert!(
        c.requests().await?.is_empty(),
        "a request after local failures"
    );

    // -- Two of three failing: one request. --------------------------------
    target.fail_from(&[ips[0], ips[1]], 500);
    let down = c
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    let id = open_request(&down);
    let requests = c.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_open_http_ko(&requests[0], &url, "HTTP 500");
    assert_eq!(requests[0]["id"], id, "{requests:?}");

    // Still one, the same, through several more failing rounds.
    let failing_from = target.hits_from(ips[1]);
    wait_until(
        DEADLINE,
        "4 more failing probes from 127.0.0.3, one request throughout",
        async || {
            let requests = c.requests().await?;
            let service = c.service(SERVICE).await?;
            let failing = gained(&target, ips[1], failing_from);
            Ok::<_, anyhow::Error>(
                if requests.len() != 1 || requests[0]["id"] != id || service["open_request"] != id {
                    Seen::Violated(format!(
                        "request {id} not the only one: {requests:?}; service {service}"
                    ))
                } else if failing >= 4 {
                    Seen::Ready(())
                } else {
                    Seen::Pending(format!("{failing} failing probes; service {service}"))
                },
            )
        },
    )
    .await?;
    let service = c.service(SERVICE).await?;
    assert_eq!(service["state"], "down", "{service}");

    // -- Recovery closes it. -----------------------------------------------
    target.fail_from(&[], 0);
    c.wait_service(SERVICE, "up with no open request", |s| {
        s["state"] == "up" && s["open_request"].is_null()
    })
    .await?;
    let closed = c.request(id).await?;
    assert_eq!(closed["stage"], "done", "{closed}");
    assert_eq!(closed["close_reason"], "recovered", "{closed}");
    let notes = closed["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("notes is not a list: {closed}"));
    assert!(
        notes.iter().any(
            |n| n["author"] == "picket" && n["text"].as_str().is_some_and(|t| t.contains(&url))
        ),
        "no closing note by picket naming {url}: {notes:?}"
    );
    let requests = c.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    Ok(())
}
