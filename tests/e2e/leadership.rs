//! Two collectors on one PostgreSQL database: one leads, the other stands
//! by (`/readyz` 503 "standby", agents and admin calls refused with
//! "standby; leader is URL", read calls and the status page served from
//! the store); the standby takes over within `leader_lease` + 5 s of the
//! leader's death; a leader paused past its lease is fenced (it writes no
//! row after it resumes) and stops.

use std::time::{Duration, Instant};

use picket_collector::testing::postgres::PgServer;
use picket_e2e::target::Target;
use picket_e2e::{ADMIN_TOKEN, Agent, Collector, Config, DEADLINE, Seen, wait_until};

use crate::agents::events;
use crate::common::{AGENT, EQUIPMENT, SERVICE, is_down_with_request, one_service};

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

    // An agent sent to the standby is told where the leader is. It follows
    // the hint and may enrol with the leader before it is killed, so it has
    // a name of its own: the agent waited for below is a different one.
    let mut refused = Agent::start(&standby, "eu", "hinted-1", None, &[])?;
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

/// One number from `sql` on database `name` of `pg` (through `psql`).
fn count(pg: &PgServer, name: &str, sql: &str) -> anyhow::Result<i64> {
    let out = std::process::Command::new(PgServer::bin_dir().join("psql"))
        .args(["-h", "127.0.0.1", "-U", "postgres", "-At", "-p"])
        .arg(pg.port().to_string())
        .args(["-d", name, "-c", sql])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(text.trim().parse()?)
}

#[tokio::test]
async fn a_standby_serves_reads_from_the_store_and_refuses_admin_calls() -> anyhow::Result<()> {
    let pg = tokio::task::spawn_blocking(PgServer::start).await??;
    let target = Target::http().await;
    target.set_status(500);
    // A schedule that runs a minute a year, for ListMaintenance.
    let config = shared(&pg, "standby_reads", &target)?.raw(&format!(
        "[[maintenance.windows]]\nname = \"yearly\"\nequipment = \"{EQUIPMENT}\"\n\
         cron = \"0 3 1 1 *\"\nduration = \"1m\"\n"
    ));
    let leader = Collector::start(config.clone()).await?;
    let standby = Collector::start_unready(config).await?;
    wait_standby(&standby, &leader).await?;
    let _agent = Agent::start(&leader, "eu", AGENT, None, &[])?;
    let down = leader
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;

    // Reads: what the leader wrote, from the store.
    let listed = standby.services().await?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], SERVICE, "{listed:?}");
    assert_eq!(listed[0]["state"], "down", "{listed:?}");
    let one = standby.service(SERVICE).await?;
    assert_eq!(one["state"], "down", "{one}");
    assert_eq!(one["open_request"], down["open_request"], "{one}");
    let requests = standby.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["id"], down["open_request"], "{requests:?}");
    let agents = standby.agents().await?;
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert_eq!(agents[0]["name"], AGENT, "{agents:?}");
    assert_eq!(
        agents[0]["liveness"], "live",
        "heard from lately: {agents:?}"
    );

    // The event log, the leader's events in order.
    let seqs = |v: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        v.iter().map(|e| e["seq"].clone()).collect()
    };
    let theirs = seqs(events(&leader).await?);
    let ours = seqs(events(&standby).await?);
    assert!(
        !theirs.is_empty() && ours.starts_with(&theirs),
        "{ours:?} vs {theirs:?}"
    );

    // The status page too, while /readyz stays 503.
    let (code, page) = standby.http_page("/").await?;
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains(SERVICE),
        "the status page lists the service: {page}"
    );
    assert_eq!(standby.readyz().await?.0, 503);
    // A check-in writes: the standby refuses it, naming the leader.
    let (code, body) = standby.http_page("/ping/any-token").await?;
    let leader_is = format!("standby; leader is {}", leader.grpc_url());
    assert_eq!(code, 503, "{body}");
    assert!(body.contains(&leader_is), "{body}");

    // The standby refuses an admin write itself, naming the leader, and
    // writes nothing.
    let hint = format!("standby; leader is {}", leader.grpc_url());
    let channel = tonic::transport::Endpoint::from_shared(standby.grpc_url())?
        .connect()
        .await?;
    let mut client = picket_proto::v1::picket_client::PicketClient::new(channel);
    let mut call = tonic::Request::new(picket_proto::v1::StartMaintenanceRequest {
        equipment: EQUIPMENT.into(),
        duration_ms: 3_600_000,
        reason: String::new(),
        mode: String::new(),
    });
    call.metadata_mut()
        .insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse()?);
    let refused = client
        .start_maintenance(call)
        .await
        .expect_err("a standby refuses admin calls");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains(&hint), "{refused:?}");
    assert!(
        leader.service(SERVICE).await?["maintenance_until"].is_null(),
        "no maintenance window was written"
    );

    // picketctl given the standby follows that hint: the write lands on
    // the leader.
    let out = standby
        .ctl_raw(&["maintenance", "start", EQUIPMENT, "--for", "1h"])
        .await?;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        !leader.service(SERVICE).await?["maintenance_until"].is_null(),
        "the leader has the window"
    );
    // ListMaintenance is a read: the standby answers it from the store
    // (the window the leader wrote) and the configuration (the schedule).
    let mut call = tonic::Request::new(picket_proto::v1::ListMaintenanceRequest {});
    call.metadata_mut()
        .insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse()?);
    let listed = client.list_maintenance(call).await?.into_inner();
    let windows: Vec<&str> = listed
        .windows
        .iter()
        .map(|w| w.equipment.as_str())
        .collect();
    assert_eq!(windows, [EQUIPMENT], "{listed:?}");
    assert_eq!(listed.schedules.len(), 1, "{listed:?}");
    assert_eq!(listed.schedules[0].name, "yearly", "{listed:?}");
    assert!(listed.schedules[0].next_start.is_some(), "{listed:?}");
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
    let results = "SELECT count(*) FROM results";
    assert!(
        count(&pg, "leader_pause", results)? > 0,
        "the old leader wrote results"
    );

    // The agent, connected to the old leader only, keeps probing while it
    // is paused: it resumes with results to write, and must write none.
    old.signal("STOP")?;
    let took = wait_leads(&new, LEASE + Duration::from_secs(5)).await?;
    println!("takeover: {took:?} after SIGSTOP (leader_lease {LEASE:?})");
    let before = count(&pg, "leader_pause", results)?;
    old.signal("CONT")?;
    let status = old.wait_exit(DEADLINE).await?;
    assert!(
        !status.success(),
        "the deposed leader exits non-zero: {status}"
    );
    let log = std::fs::read_to_string(old.log_path())?;
    assert!(log.contains("leadership lost"), "{}", old.log_tail(20));
    assert_eq!(
        count(&pg, "leader_pause", results)?,
        before,
        "the deposed leader wrote results after it resumed"
    );

    // The new leader rebuilt the state from the store: the same request,
    // still the only one.
    let requests = new.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["id"], id, "{requests:?}");
    assert_eq!(requests[0]["stage"], "open", "{requests:?}");
    Ok(())
}
