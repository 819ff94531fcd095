//! Two collectors on one PostgreSQL database: one leads, the other stands
//! by (`/readyz` 503 "standby", agents refused with "standby; leader is
//! URL"); the standby takes over within `leader_lease` + 5 s of the
//! leader's death; a leader paused past its lease is fenced and stops.

use std::time::{Duration, Instant};

use picket_collector::testing::postgres::PgServer;
use picket_e2e::target::Target;
use picket_e2e::{Agent, Collector, Config, DEADLINE, Seen, wait_until};

use crate::common::{AGENT, SERVICE, is_down_with_request, one_service};

pub(crate) const LEASE: Duration = Duration::from_secs(2);

/// A fresh database on `pg` and the config both collectors run.
pub(crate) fn shared(pg: &PgServer, name: &str, target: &Target) -> anyhow::Result<Config> {
    let url = pg.create_database(name)?;
    Ok(one_service(&target.url())
        .collector("database", url.as_str())
        .collector("leader_lease", "2s"))
}

/// Waits until `c` stands by and names `leader`'s URL.
pub(crate) async fn wait_standby(c: &Collector, leader: &Collector) -> anyhow::Result<()> {
    let expected = format!("standby; leader is {}", leader.grpc_url());
    wait_until(DEADLINE, "the second collector to stand by", async || {
        let (code, body) = c.readyz().await?;
        Ok::<_, anyhow::Error>(if code == 503 && body.trim() == expected {
            Seen::Ready(())
        } else {
            Seen::Pending(format!("/readyz {code} {body:?}"))
        })
    })
    .await
}

/// Waits until `c` leads (`/readyz` 200) and returns how long it took.
pub(crate) async fn wait_leads(c: &Collector, within: Duration) -> anyhow::Result<Duration> {
    let from = Instant::now();
    wait_until(within, "the standby to lead", async || {
        let (code, body) = c.readyz().await?;
        Ok::<_, anyhow::Error>(if code == 200 {
            Seen::Ready(from.elapsed())
        } else {
            Seen::Pending(format!("/readyz {code} {body:?}"))
        })
    })
    .await
}

#[tokio::test]
async fn the_standby_refuses_agents_and_leads_after_the_leader_is_killed() -> anyhow::Result<()> {
    let pg = tokio::task::spawn_blocking(PgServer::start).await??;
    let target = Target::http().await;
    let config = shared(&pg, "leader_kill", &target)?;
    let mut leader = Collector::start(config.clone()).await?;
    let standby = Collector::start_unready(config).await?;
    wait_standby(&standby, &leader).await?;

    // An agent sent to the standby is told where the leader is.
    let mut refused = Agent::start(&standby, "eu", AGENT, None, &[])?;
    let hint = format!("standby; leader is {}", leader.grpc_url());
    wait_until(DEADLINE, "the agent to log the leader hint", async || {
        let log = refused.log_text();
        if log.contains(&hint) {
            Seen::Ready(())
        } else {
            Seen::Pending(refused.log_tail(3))
        }
    })
    .await?;
    refused.kill();

    leader.kill();
    let took = wait_leads(&standby, LEASE + Duration::from_secs(5)).await?;
    println!("takeover: {took:?} after kill -9 (leader_lease {LEASE:?})");
    let _agent = Agent::start(&standby, "eu", AGENT, None, &[])?;
    standby.wait_agent_live(AGENT).await?;
    standby
        .wait_service(SERVICE, "checked through the new leader", |s| {
            s["state"] == "up" && !s["last_check_at"].is_null()
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_leader_paused_past_its_lease_is_fenced_and_stops() -> anyhow::Result<()> {
    let pg = tokio::task::spawn_blocking(PgServer::start).await??;
    let target = Target::http().await;
    target.set_status(500);
    let config = shared(&pg, "leader_pause", &target)?;
    let mut old = Collector::start(config.clone()).await?;
    let new = Collector::start_unready(config).await?;
    wait_standby(&new, &old).await?;
    let _agent = Agent::start(&old, "eu", AGENT, None, &[])?;
    let down = old
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    let id = down["open_request"].clone();

    old.signal("STOP")?;
    let took = wait_leads(&new, LEASE + Duration::from_secs(5)).await?;
    println!("takeover: {took:?} after SIGSTOP (leader_lease {LEASE:?})");
    old.signal("CONT")?;
    let status = old.wait_exit(DEADLINE).await?;
    assert!(
        !status.success(),
        "the deposed leader exits non-zero: {status}"
    );
    let log = std::fs::read_to_string(old.log_path())?;
    assert!(log.contains("leadership lost"), "{}", old.log_tail(20));

    // The new leader rebuilt the state from the store: the same request,
    // still the only one.
    let requests = new.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["id"], id, "{requests:?}");
    assert_eq!(requests[0]["stage"], "open", "{requests:?}");
    Ok(())
}
