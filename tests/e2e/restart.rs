//! A collector restart (clean or crash): the agent reconnects, results keep
//! flowing, and the open request is neither lost nor duplicated.

use picket_e2e::target::Target;
use picket_e2e::{DEADLINE, Seen, wait_until};
use serde_json::Value;

use crate::common::{AGENT, SERVICE, is_down_with_request, one_service, open_request, start};

async fn open_request_survives_restart(crash: bool) -> anyhow::Result<()> {
    let target = Target::http().await;
    target.set_status(500);
    let (mut c, _agent) = start(one_service(&target.url()), &[]).await?;
    let down = c
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    let id = open_request(&down);

    if crash {
        c.kill();
        c.start_again().await?;
    } else {
        c.restart().await?;
    }
    c.wait_agent_live(AGENT).await?;

    // Results flow again: the new process records new checks (each change
    // of last_check_at is a result it ingested), and through all of them
    // the request stays the only one, still open.
    let mut last: Value = c.service(SERVICE).await?["last_check_at"].clone();
    let mut changes = 0;
    wait_until(
        DEADLINE,
        "3 results ingested after the restart, one request",
        async || {
            let requests = c.requests().await?;
            let service = c.service(SERVICE).await?;
            if requests.len() != 1 || requests[0]["id"] != id || requests[0]["stage"] != "open" {
                return Ok::<_, anyhow::Error>(Seen::Violated(format!(
                    "request {id} lost or duplicated after the restart: {requests:?}"
                )));
            }
            if service["last_check_at"] != last {
                last = service["last_check_at"].clone();
                changes += 1;
            }
            Ok(if changes >= 3 {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("{changes} new results; {service}"))
            })
        },
    )
    .await?;
    let service = c.service(SERVICE).await?;
    assert_eq!(service["state"], "down", "{service}");
    assert_eq!(service["open_request"], id, "{service}");

    // And the request opened before the restart is the one recovery closes.
    target.set_status(200);
    c.wait_service(SERVICE, "up with no open request", |s| {
        s["state"] == "up" && s["open_request"].is_null()
    })
    .await?;
    let requests = c.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["id"], id, "{requests:?}");
    assert_eq!(requests[0]["stage"], "done", "{requests:?}");
    assert_eq!(requests[0]["close_reason"], "recovered", "{requests:?}");

    // `picketctl service ID --json` carries the history from the rollups,
    // which span the restart: failures before it, a success after it.
    let history = c.service(SERVICE).await?["history"].clone();
    let uptime = history["uptime_24h"].as_f64().unwrap_or(-1.0);
    assert!(uptime > 0.0 && uptime < 1.0, "{history}");
    assert_eq!(history["uptime_24h"], history["uptime_30d"], "{history}");
    let daily = history["daily"].as_array().cloned().unwrap_or_default();
    assert_eq!(daily.len(), 90, "{history}");
    let sum = |k: &str| daily.iter().filter_map(|d| d[k].as_u64()).sum::<u64>();
    assert!(
        sum("failures") > 0 && sum("probes") > sum("failures"),
        "{history}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_restart_keeps_the_open_request() -> anyhow::Result<()> {
    open_request_survives_restart(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_keeps_the_open_request() -> anyhow::Result<()> {
    open_request_survives_restart(true).await
}
