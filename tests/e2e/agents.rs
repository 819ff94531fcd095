//! Agents as processes: enrollment refused for a wrong token (exit 3) and
//! the cloned-instance refusal. The dead-man's switch, approval and
//! suspension run in the in-process scenarios (`tests/scenarios/agents.rs`).

use std::net::IpAddr;

use picket_e2e::target::Target;
use picket_e2e::{Agent, AgentOptions, Collector, Config, DEADLINE, Seen, wait_until};
use serde_json::Value;

use crate::common::one_service;

/// `missed_heartbeats` of every config here.
pub const MISSED: u32 = 3;
/// One member of the test fleet: name, region and the source address its
/// probes come from (so the target can tell the agents apart).
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub name: &'static str,
    pub region: &'static str,
    pub ip: [u8; 4],
}

impl Member {
    pub fn ip(&self) -> IpAddr {
        IpAddr::from(self.ip)
    }
}

pub const FLEET: [Member; 3] = [
    Member {
        name: "edge-eu",
        region: "eu",
        ip: [127, 0, 0, 2],
    },
    Member {
        name: "edge-us",
        region: "us",
        ip: [127, 0, 0, 3],
    },
    Member {
        name: "edge-asia",
        region: "asia",
        ip: [127, 0, 0, 4],
    },
];

/// `one_service(url)` with the dead-man's switch set explicitly.
pub fn fleet_config(url: &str) -> Config {
    one_service(url)
        .agents("heartbeat_interval", "1s")
        .agents("missed_heartbeats", MISSED)
}

/// Starts one agent of the fleet.
pub fn start_member(c: &Collector, m: &Member) -> anyhow::Result<Agent> {
    Agent::start_with(
        c,
        m.region,
        m.name,
        AgentOptions {
            source_address: Some(m.ip()),
            ..AgentOptions::default()
        },
    )
}

/// Starts a collector on `config` and the given members of [`FLEET`], and
/// waits until every one is active and live. Returns the agents in the
/// order given, with their ids.
pub async fn start_fleet(
    config: Config,
    members: &[Member],
) -> anyhow::Result<(Collector, Vec<Agent>, Vec<String>)> {
    let c = Collector::start(config).await?;
    let mut agents = Vec::new();
    for m in members {
        agents.push(start_member(&c, m)?);
    }
    let mut ids = Vec::new();
    for m in members {
        let agent = c.wait_agent_live(m.name).await?;
        ids.push(id_of(&agent)?);
    }
    Ok((c, agents, ids))
}

/// The `id` of an agent object.
pub fn id_of(agent: &Value) -> anyhow::Result<String> {
    agent["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("agent without a string id: {agent}"))
}

/// The agent called `name` in `agents --json`, if listed.
pub async fn agent_named(c: &Collector, name: &str) -> anyhow::Result<Option<Value>> {
    Ok(c.agents().await?.into_iter().find(|a| a["name"] == name))
}

/// `events --json`: the whole event log so far.
pub async fn events(c: &Collector) -> anyhow::Result<Vec<Value>> {
    match c.ctl(&["events"]).await? {
        Value::Array(items) => Ok(items),
        other => anyhow::bail!("picketctl events --json did not print a list: {other}"),
    }
}

/// The events of type `kind` about `subject`.
pub async fn events_of(c: &Collector, kind: &str, subject: &str) -> anyhow::Result<Vec<Value>> {
    Ok(events(c)
        .await?
        .into_iter()
        .filter(|e| e["type"] == kind && e["subject"] == subject)
        .collect())
}

/// Waits until the agent called `name` has heartbeated `n` more times
/// (its `last_seen` changed `n` times), checking `invariant` on every poll;
/// the invariant returns a violation text when broken.
pub async fn over_heartbeats(
    c: &Collector,
    name: &str,
    n: u32,
    what: &str,
    mut invariant: impl AsyncFnMut() -> anyhow::Result<Option<String>>,
) -> anyhow::Result<()> {
    let mut last = agent_named(c, name).await?.map(|a| a["last_seen"].clone());
    let mut changes = 0;
    wait_until(
        DEADLINE,
        &format!("{n} heartbeats of {name} while {what}"),
        async || {
            if let Some(why) = invariant().await? {
                return Ok::<_, anyhow::Error>(Seen::Violated(why));
            }
            let agent = agent_named(c, name).await?;
            let seen = agent.as_ref().map(|a| a["last_seen"].clone());
            if seen != last && seen.as_ref().is_some_and(|s| !s.is_null()) {
                last = seen;
                changes += 1;
            }
            Ok(if changes >= n {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("{changes} heartbeats; agent {agent:?}"))
            })
        },
    )
    .await
}

/// A wrong enrollment token on first contact: the agent exits 3 with the
/// exact refusal line on stderr, and is never listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_enrollment_token_is_refused_for_good() -> anyhow::Result<()> {
    const LINE: &str = "picket-agent: refused by collector: invalid enrollment token";
    let target = Target::http().await;
    let c = Collector::start(fleet_config(&target.url())).await?;
    let m = &FLEET[0];
    let mut agent = Agent::start_with(
        &c,
        m.region,
        m.name,
        AgentOptions {
            source_address: Some(m.ip()),
            enrollment_token: Some(String::from("not-the-enrollment-token")),
            ..AgentOptions::default()
        },
    )?;
    let status = agent.wait_exit(DEADLINE).await?;
    let log = agent.log_text();
    assert_eq!(status.code(), Some(3), "exit status {status}; log:\n{log}");
    assert!(
        log.lines().any(|l| l == LINE),
        "no stderr line exactly {LINE:?}; log:\n{log}"
    );
    let agents = c.agents().await?;
    assert!(
        agents.is_empty(),
        "an agent refused for its token is listed: {agents:?}"
    );
    assert_eq!(target.hits_from(m.ip()), 0, "the refused agent probed");
    Ok(())
}

/// A copy of an agent's state dir started as a second process (the cloned
/// instance) is refused with "already connected" and keeps retrying; the
/// collector records `agent.duplicate`, and the original stays the one live
/// agent under that id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloned_state_dir_is_refused_while_the_original_is_connected() -> anyhow::Result<()> {
    const CLONE: &str = "edge-clone";
    let target = Target::http().await;
    let original_member = FLEET[0];
    let (c, agents, ids) = start_fleet(fleet_config(&target.url()), &[original_member]).await?;
    let id = ids[0].clone();
    let original = &agents[0];
    // The clone copies the state file once the original has stored its
    // credential there (it does so after the welcome, which may come after
    // the collector already lists it as live).
    let state = original.state_dir().join("agent.json");
    wait_until(
        DEADLINE,
        "the original's credential in agent.json",
        async || {
            let text = std::fs::read_to_string(&state).unwrap_or_default();
            let json: Value = serde_json::from_str(&text).unwrap_or_default();
            json["credential"].as_str().is_some_and(|c| !c.is_empty())
        },
    )
    .await?;

    let mut clone = Agent::start_with(
        &c,
        "us",
        CLONE,
        AgentOptions {
            source_address: Some(FLEET[1].ip()),
            copy_state_from: Some(original.state_dir().to_path_buf()),
            ..AgentOptions::default()
        },
    )?;
    let needle = format!("agent id {id} is already connected");
    wait_until(
        DEADLINE,
        "the clone to log that it was refused",
        async || clone.log_text().contains(&needle),
    )
    .await?;
    let duplicate = wait_until(DEADLINE, "an agent.duplicate event", async || {
        Ok::<_, anyhow::Error>(events_of(&c, "agent.duplicate", &id).await?.pop())
    })
    .await?;
    assert_eq!(
        duplicate["payload"]["agent"]["id"],
        id.as_str(),
        "{duplicate}"
    );
    // Logged on the collector's side too, at warn.
    let collector_log = c.log_tail(400);
    assert!(
        collector_log
            .lines()
            .any(|l| l.contains("WARN") && l.contains("already connected") && l.contains(&id)),
        "the collector did not log the refusal at warn:\n{collector_log}"
    );

    // Two more heartbeats of the original: it stays the one live agent with
    // that id and its name, and the clone keeps running (retrying).
    over_heartbeats(
        &c,
        original_member.name,
        2,
        "the clone retries",
        async || {
            let agents = c.agents().await?;
            Ok(
                if agents.len() != 1
                    || agents[0]["id"] != id.as_str()
                    || agents[0]["name"] != original_member.name
                    || agents[0]["liveness"] != "live"
                {
                    Some(format!(
                        "the original is no longer the only live agent: {agents:?}"
                    ))
                } else {
                    None
                },
            )
        },
    )
    .await?;
    assert!(
        clone.is_running(),
        "the clone exited instead of retrying; log:\n{}",
        clone.log_tail(40)
    );
    assert_eq!(
        target.hits_from(FLEET[1].ip()),
        0,
        "the refused clone probed the target"
    );
    let log = clone.log_text();
    let refusal = log
        .lines()
        .find(|l| l.contains(&needle))
        .expect("the refusal was logged");
    assert!(
        refusal.contains("WARN"),
        "the refusal is not logged at warn: {refusal:?}"
    );
    Ok(())
}
