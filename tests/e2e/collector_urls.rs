//! `--collector URL1,URL2` with two collectors on one PostgreSQL database:
//! an agent given the standby first streams to the leader, and after a
//! kill -9 of the leader finds the new one and replays what it buffered
//! (every probe's result stored once); `picketctl` given the standby first
//! gets the leader's answer.

use std::process::Command;
use std::time::Duration;

use picket_collector::testing::postgres::PgServer;
use picket_e2e::target::Target;
use picket_e2e::{ADMIN_TOKEN, Agent, Collector, DEADLINE, Seen, wait_until};

use crate::common::{AGENT, EQUIPMENT, SERVICE};
use crate::leadership::{LEASE, shared, wait_leads, wait_standby};

/// `(results, distinct results)` in the store: a replayed duplicate would
/// share its agent, service and time with the original.
fn stored_results(pg: &PgServer, database: &str) -> anyhow::Result<(u64, u64)> {
    let output = Command::new(PgServer::bin_dir().join("psql"))
        .args(["-h", "127.0.0.1", "-U", "postgres", "-At", "-p"])
        .arg(pg.port().to_string())
        .args(["-d", database, "-c"])
        .arg("SELECT count(*), count(DISTINCT (agent, service, time_ms)) FROM results")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let (all, distinct) = text
        .trim()
        .split_once('|')
        .ok_or_else(|| anyhow::anyhow!("psql printed {text:?}"))?;
    Ok((all.parse()?, distinct.parse()?))
}

/// Waits until the agent's log says it is connected to `url`.
async fn wait_connected(agent: &Agent, url: &str) -> anyhow::Result<()> {
    let line = format!("connected to collector collector={url}");
    wait_until(DEADLINE, "the agent to connect to the leader", async || {
        if agent.log_text().contains(&line) {
            Seen::Ready(())
        } else {
            Seen::Pending(agent.log_tail(3))
        }
    })
    .await
}

#[tokio::test]
async fn an_agent_given_the_standby_first_follows_the_leader_and_loses_nothing_in_a_takeover()
-> anyhow::Result<()> {
    let pg = tokio::task::spawn_blocking(PgServer::start).await??;
    let target = Target::http().await;
    let database = "urls_agent";
    let config = shared(&pg, database, &target)?;
    let mut leader = Collector::start(config.clone()).await?;
    let standby = Collector::start_unready(config).await?;
    wait_standby(&standby, &leader).await?;

    let list = format!("{},{}", standby.grpc_url(), leader.grpc_url());
    let agent = Agent::start(&standby, "eu", AGENT, None, &["--collector", &list])?;
    wait_connected(&agent, &leader.grpc_url()).await?;
    assert!(
        agent
            .log_text()
            .contains("collector is a standby; trying the leader"),
        "{}",
        agent.log_tail(10)
    );
    leader.wait_agent_live(AGENT).await?;
    wait_until(DEADLINE, "results stored through the leader", async || {
        let (all, _) = stored_results(&pg, database)?;
        Ok::<_, anyhow::Error>(if all >= 2 {
            Seen::Ready(())
        } else {
            Seen::Pending(format!("{all} results"))
        })
    })
    .await?;

    leader.kill();
    let (stored_at_kill, _) = stored_results(&pg, database)?;
    wait_leads(&standby, LEASE + Duration::from_secs(5)).await?;
    wait_connected(&agent, &standby.grpc_url()).await?;
    // Every probe made until now, those while no collector led included,
    // reaches the store, each once.
    let probed = target.hits();
    let stored = wait_until(DEADLINE, "every probe's result in the store", async || {
        let (all, distinct) = stored_results(&pg, database)?;
        Ok::<_, anyhow::Error>(if all >= probed {
            Seen::Ready((all, distinct))
        } else {
            Seen::Pending(format!("{all} of {probed} results"))
        })
    })
    .await?;
    assert!(
        probed > stored_at_kill,
        "results were buffered during the takeover ({probed} probes, {stored_at_kill} stored at the kill)"
    );
    assert_eq!(stored.0, stored.1, "no result stored twice: {stored:?}");
    Ok(())
}

/// Runs `picketctl --collector URLS --token ADMIN ARGS`: its exit code,
/// stdout and stderr.
async fn picketctl(urls: &str, args: &[&str]) -> anyhow::Result<(Option<i32>, String, String)> {
    let out = tokio::process::Command::new(picket_e2e::binary("picketctl")?)
        .args(["--collector", urls, "--token", ADMIN_TOKEN])
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DEADLINE, out).await??;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((out.status.code(), text(&out.stdout), text(&out.stderr)))
}

#[tokio::test]
async fn picketctl_given_a_dead_url_and_the_standby_first_gets_the_leaders_answer()
-> anyhow::Result<()> {
    let pg = tokio::task::spawn_blocking(PgServer::start).await??;
    let target = Target::http().await;
    let config = shared(&pg, "urls_ctl", &target)?;
    let leader = Collector::start(config.clone()).await?;
    let standby = Collector::start_unready(config).await?;
    wait_standby(&standby, &leader).await?;

    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let list = format!("http://{dead},{}", standby.grpc_url());
    let (code, stdout, stderr) =
        picketctl(&list, &["maintenance", "start", EQUIPMENT, "--json"]).await?;
    assert_eq!(code, Some(0), "{stderr}");
    let window: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(window["equipment"], EQUIPMENT, "{window}");
    // The leader made the change.
    leader
        .wait_service(SERVICE, "in maintenance", |s| s["state"] == "maintenance")
        .await?;

    let (code, _, stderr) = picketctl("http://127.0.0.1:1,,", &["services"]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim(), "picketctl: --collector \"\": empty element");
    Ok(())
}
