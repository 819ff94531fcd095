//! Agents: the dead-man's switch, enrollment refused for a wrong token,
//! approval of `new` agents, suspension, and the cloned-instance refusal.
//!
//! The fleet helpers here (three agents on their own loopback source
//! addresses, one per region) are shared with `quorum.rs`.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use picket_e2e::target::Target;
use picket_e2e::{Agent, AgentOptions, Collector, Config, DEADLINE, Seen, parse_time, wait_until};
use serde_json::Value;

use crate::common::{SERVICE, one_service};

/// `heartbeat_interval` of every config here (set by `Config::fast`).
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// `missed_heartbeats` of every config here.
pub const MISSED: u32 = 3;
/// The dead-man's switch window: `heartbeat_interval × missed_heartbeats`.
pub const WINDOW: Duration = Duration::from_secs(3);

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

/// Hits the target got from each source address.
pub fn hits_by_source(target: &Target, ips: &[IpAddr]) -> Vec<u64> {
    ips.iter().map(|ip| target.hits_from(*ip)).collect()
}

/// Waits for a stretch in which exactly `n` of `ips` probe the target (each
/// at least twice) while the others send nothing at all, i.e. the
/// assignment has settled. Returns (probing, idle) indexes into `ips`.
pub async fn settled_assignment(
    target: &Target,
    ips: &[IpAddr],
    n: usize,
) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let mut since = hits_by_source(target, ips);
    wait_until(
        DEADLINE,
        &format!("a stretch in which exactly {n} of {ips:?} probe the target"),
        async || {
            let now = hits_by_source(target, ips);
            let gains: Vec<u64> = now.iter().zip(&since).map(|(a, b)| a - b).collect();
            let active = gains.iter().filter(|g| **g > 0).count();
            if active > n {
                // Still moving (an agent just joined or left): start over.
                since = now;
                return Seen::Pending(format!("{active} sources probing, gains {gains:?}"));
            }
            if active == n && gains.iter().all(|g| *g == 0 || *g >= 2) {
                let probing = (0..ips.len()).filter(|i| gains[*i] > 0).collect();
                let idle = (0..ips.len()).filter(|i| gains[*i] == 0).collect();
                Seen::Ready((probing, idle))
            } else {
                Seen::Pending(format!("gains since the stretch began: {gains:?}"))
            }
        },
    )
    .await
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

fn secs_between(later: SystemTime, earlier: SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Dead-man's switch: with two agents per service, freezing one of the two
/// probing agents (SIGSTOP) makes it `dead` once the window has passed
/// (never before), opens one `[AGENT DOWN] name` request of kind `agent`,
/// records `agent.down`, and moves its check to the idle third agent.
/// SIGCONT brings it back: `agent.up`, `live`, the request closed as
/// `recovered` with a note by `picket`, and the check returns to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_is_declared_dead_and_its_checks_move() -> anyhow::Result<()> {
    let target = Target::http().await;
    let config = fleet_config(&target.url()).agents("agents_per_service", 2);
    let (c, mut agents, ids) = start_fleet(config, &FLEET).await?;
    c.wait_state(SERVICE, "up").await?;
    let ips: Vec<IpAddr> = FLEET.iter().map(Member::ip).collect();
    let (probing, idle) = settled_assignment(&target, &ips, 2).await?;
    let (victim, other, third) = (probing[0], probing[1], idle[0]);
    let name = FLEET[victim].name;
    let victim_id = ids[victim].clone();
    assert!(
        c.open_requests().await?.is_empty(),
        "a request is open before any agent stopped"
    );

    let third_before = target.hits_from(ips[third]);
    let other_before = target.hits_from(ips[other]);
    let stopped_at = SystemTime::now();
    let stopped = Instant::now();
    agents[victim].pause()?;

    // Dead within the window (plus a margin for the poll and a loaded
    // machine), and its request is open.
    let dead = wait_until(
        WINDOW + Duration::from_secs(3),
        &format!("{name} dead after SIGSTOP"),
        async || {
            let agent = agent_named(&c, name).await?;
            Ok::<_, anyhow::Error>(match agent {
                Some(a) if a["liveness"] == "dead" => Seen::Ready(a),
                other => Seen::Pending(format!("{other:?}")),
            })
        },
    )
    .await?;
    let declared_after = stopped.elapsed();
    assert_eq!(dead["id"], victim_id.as_str(), "{dead}");
    assert_eq!(dead["state"], "active", "{dead}");

    let request = wait_until(DEADLINE, "the [AGENT DOWN] request", async || {
        let open = c.open_requests().await?;
        let mine: Vec<Value> = open
            .iter()
            .filter(|r| r["agent"] == victim_id.as_str())
            .cloned()
            .collect();
        Ok::<_, anyhow::Error>(match mine.len() {
            0 => Seen::Pending(format!("open requests: {open:?}")),
            1 => Seen::Ready(mine[0].clone()),
            _ => Seen::Violated(format!("two open requests for {victim_id}: {open:?}")),
        })
    })
    .await?;
    assert_eq!(request["name"], format!("[AGENT DOWN] {name}"), "{request}");
    assert_eq!(request["kind"], "agent", "{request}");
    assert!(
        request["service"].is_null(),
        "service of an agent request: {request}"
    );
    assert_eq!(request["stage"], "open", "{request}");
    assert!(request["closed_at"].is_null(), "{request}");
    let request_id = request["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("request id is not an integer: {request}"));

    // Never before the window: the request was opened at least a window
    // after the last heartbeat the collector got, and, since that heartbeat
    // came at most one interval before SIGSTOP, at least window − interval
    // after it.
    let opened_at = parse_time(&request["opened_at"])
        .unwrap_or_else(|| panic!("opened_at is not RFC 3339: {request}"));
    let last_seen = parse_time(&dead["last_seen"])
        .unwrap_or_else(|| panic!("last_seen of a dead agent is not RFC 3339: {dead}"));
    let epsilon = 0.25;
    let silent_for = secs_between(opened_at, last_seen);
    assert!(
        silent_for >= WINDOW.as_secs_f64() - epsilon,
        "[AGENT DOWN] opened {silent_for:.3}s after the last heartbeat ({last_seen:?}), \
         before the {WINDOW:?} window: {request}"
    );
    let after_stop = secs_between(opened_at, stopped_at);
    assert!(
        after_stop >= (WINDOW - HEARTBEAT).as_secs_f64() - epsilon,
        "[AGENT DOWN] opened {after_stop:.3}s after SIGSTOP, before the window could pass: \
         {request}"
    );
    assert!(
        declared_after <= WINDOW + Duration::from_secs(3),
        "declared dead {declared_after:?} after SIGSTOP"
    );
    let down = events_of(&c, "agent.down", &victim_id).await?;
    assert_eq!(down.len(), 1, "agent.down events for {victim_id}: {down:?}");
    assert_eq!(
        down[0]["payload"]["agent"]["id"],
        victim_id.as_str(),
        "{down:?}"
    );

    // Its check moves to the third agent, which had none, and the other
    // probing agent keeps it.
    wait_until(
        DEADLINE,
        &format!("{} to take over the check", FLEET[third].name),
        async || target.hits_from(ips[third]) >= third_before + 2,
    )
    .await?;
    assert!(
        target.hits_from(ips[other]) >= other_before + 2,
        "{} stopped probing while {name} was dead",
        FLEET[other].name
    );

    // Back: live again, the request closes itself.
    agents[victim].resume()?;
    let closed = wait_until(
        DEADLINE,
        &format!("{name} live again and its request closed"),
        async || {
            let agent = agent_named(&c, name).await?;
            let request = c.request(request_id).await?;
            let live = agent.as_ref().is_some_and(|a| a["liveness"] == "live");
            Ok::<_, anyhow::Error>(if live && request["stage"] == "done" {
                Seen::Ready(request)
            } else {
                Seen::Pending(format!("agent {agent:?}; request {request}"))
            })
        },
    )
    .await?;
    assert_eq!(closed["close_reason"], "recovered", "{closed}");
    let closed_at = parse_time(&closed["closed_at"])
        .unwrap_or_else(|| panic!("closed_at is not RFC 3339: {closed}"));
    assert!(closed_at >= opened_at, "closed before opened: {closed}");
    let notes = closed["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("notes is not a list: {closed}"));
    assert!(
        notes
            .iter()
            .any(|n| n["author"] == "picket" && parse_time(&n["time"]).is_some()),
        "no note by picket with a time: {notes:?}"
    );
    let up = events_of(&c, "agent.up", &victim_id).await?;
    assert_eq!(up.len(), 1, "agent.up events for {victim_id}: {up:?}");
    assert_eq!(
        up[0]["payload"]["agent"]["id"],
        victim_id.as_str(),
        "{up:?}"
    );
    assert!(
        up[0]["seq"].as_i64() > down[0]["seq"].as_i64(),
        "agent.up before agent.down: {down:?} {up:?}"
    );
    let open = c.open_requests().await?;
    assert!(open.is_empty(), "requests still open: {open:?}");

    // Its check returns: it probes again and the third agent, which only
    // stood in for it, goes idle (one probe in flight allowed).
    let victim_from = target.hits_from(ips[victim]);
    let third_from = target.hits_from(ips[third]);
    wait_until(
        DEADLINE,
        &format!("the check to return to {name}"),
        async || {
            let third_gain = target.hits_from(ips[third]) - third_from;
            let victim_gain = target.hits_from(ips[victim]) - victim_from;
            if third_gain > 1 {
                Seen::Violated(format!(
                    "{} still probing after {name} came back: {third_gain} hits",
                    FLEET[third].name
                ))
            } else if victim_gain >= 3 {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("{name} probed {victim_gain} times since back"))
            }
        },
    )
    .await?;
    Ok(())
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

/// Without auto-approval a first contact registers the agent as `new`: it
/// heartbeats but gets no checks. `agents approve ID` makes it `active` and
/// it starts probing at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_agent_probes_nothing_until_approved() -> anyhow::Result<()> {
    let target = Target::http().await;
    let config = fleet_config(&target.url()).agents("auto_approve", false);
    let c = Collector::start(config).await?;
    let m = &FLEET[0];
    let _agent = start_member(&c, m)?;

    let registered = wait_until(DEADLINE, "the agent registered as new", async || {
        agent_named(&c, m.name).await
    })
    .await?;
    assert_eq!(registered["state"], "new", "{registered}");
    assert_eq!(registered["region"], m.region, "{registered}");
    let id = id_of(&registered)?;

    // Three heartbeats (three seconds, three probe intervals) without a
    // single probe from its address.
    over_heartbeats(&c, m.name, 3, "new, unprobed", async || {
        let hits = target.hits_from(m.ip());
        let agent = agent_named(&c, m.name).await?;
        Ok(if hits > 0 {
            Some(format!("a new agent probed: {hits} hits from {}", m.ip()))
        } else if agent.as_ref().is_none_or(|a| a["state"] != "new") {
            Some(format!("the agent left state new by itself: {agent:?}"))
        } else {
            None
        })
    })
    .await?;
    let agent = agent_named(&c, m.name)
        .await?
        .expect("the agent is still listed");
    assert_eq!(agent["liveness"], "live", "{agent}");
    assert!(agent["stats"].is_object(), "no heartbeat stats: {agent}");
    assert_eq!(agent["stats"]["checks_assigned"], 0, "{agent}");

    let approved = c.ctl(&["agents", "approve", &id]).await?;
    assert_eq!(
        approved["id"],
        id.as_str(),
        "approve --json printed {approved}"
    );
    assert_eq!(
        approved["state"], "active",
        "approve --json printed {approved}"
    );
    wait_until(DEADLINE, "probes from the approved agent", async || {
        target.hits_from(m.ip()) >= 2
    })
    .await?;
    c.wait_state(SERVICE, "up").await?;
    let agent = c.wait_agent_live(m.name).await?;
    assert_eq!(agent["id"], id.as_str(), "{agent}");
    Ok(())
}

/// `agents suspend ID` takes the checks away at once (one probe in flight
/// allowed) while the other agent keeps probing, and a suspended agent that
/// falls silent raises no alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_agent_gets_no_checks_and_raises_no_alert() -> anyhow::Result<()> {
    let target = Target::http().await;
    let members = [FLEET[0], FLEET[1]];
    let (c, mut agents, ids) = start_fleet(fleet_config(&target.url()), &members).await?;
    let (m, other) = (&members[0], &members[1]);
    target.wait_hits(1, DEADLINE).await?;
    wait_until(DEADLINE, "both agents probing", async || {
        target.hits_from(m.ip()) >= 2 && target.hits_from(other.ip()) >= 2
    })
    .await?;

    let suspended = c.ctl(&["agents", "suspend", &ids[0]]).await?;
    assert_eq!(
        suspended["id"],
        ids[0].as_str(),
        "suspend --json printed {suspended}"
    );
    assert_eq!(
        suspended["state"], "suspended",
        "suspend --json printed {suspended}"
    );
    let allowed = target.hits_from(m.ip()) + 1;
    let other_from = target.hits_from(other.ip());
    wait_until(
        DEADLINE,
        "the other agent to probe 3 more times, the suspended one not at all",
        async || {
            let hits = target.hits_from(m.ip());
            Ok::<_, anyhow::Error>(if hits > allowed {
                Seen::Violated(format!(
                    "the suspended agent probed: {hits} hits, at most {allowed} allowed"
                ))
            } else if target.hits_from(other.ip()) >= other_from + 3 {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("{hits} hits from the suspended agent"))
            })
        },
    )
    .await?;
    let agent = agent_named(&c, m.name).await?.expect("still listed");
    assert_eq!(agent["state"], "suspended", "{agent}");

    // Silent past the window (plus 2 s): no [AGENT DOWN], no agent.down.
    agents[0].pause()?;
    let paused = Instant::now();
    let quiet_for = WINDOW + Duration::from_secs(2);
    wait_until(
        quiet_for + DEADLINE,
        &format!("{quiet_for:?} of silence from a suspended agent without an alert"),
        async || {
            let requests = c.requests().await?;
            let down = events_of(&c, "agent.down", &ids[0]).await?;
            let hits = target.hits_from(m.ip());
            Ok::<_, anyhow::Error>(if !requests.is_empty() {
                Seen::Violated(format!("a request opened: {requests:?}"))
            } else if !down.is_empty() {
                Seen::Violated(format!("agent.down for a suspended agent: {down:?}"))
            } else if hits > allowed {
                Seen::Violated(format!("the suspended agent probed: {hits} hits"))
            } else if paused.elapsed() >= quiet_for {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("quiet for {:.1?}", paused.elapsed()))
            })
        },
    )
    .await?;
    agents[0].resume()?;
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
    assert!(
        original.state_dir().join("agent.json").is_file(),
        "no agent.json in {}",
        original.state_dir().display()
    );

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

/// A collector restart raises no wave of false alerts. The collector
/// crashes (kill -9) and stays down for more than one heartbeat window: the
/// agents keep probing meanwhile (each probes the target four more times,
/// > 3 s at a 1 s interval). After it starts again, every agent gets a
/// settle window covering its reconnect backoff: all reconnect, and until
/// then and over seven more heartbeats (more than two windows) no agent is
/// declared dead: no `agent.down` event, no `[AGENT DOWN]` request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_restart_raises_no_agent_down_alerts() -> anyhow::Result<()> {
    let target = Target::http().await;
    let (mut c, _agents, _ids) = start_fleet(fleet_config(&target.url()), &FLEET).await?;
    c.wait_state(SERVICE, "up").await?;
    let ips: Vec<IpAddr> = FLEET.iter().map(Member::ip).collect();

    c.kill();
    let before = hits_by_source(&target, &ips);
    wait_until(
        DEADLINE,
        "every agent probing 4 more times while the collector is down",
        async || {
            let now = hits_by_source(&target, &ips);
            let more: Vec<u64> = now.iter().zip(&before).map(|(n, b)| n - b).collect();
            if more.iter().all(|m| *m >= 4) {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("more probes per agent: {more:?}"))
            }
        },
    )
    .await?;

    c.start_again().await?;
    let mut no_alert = async || -> anyhow::Result<Option<String>> {
        let downs = events(&c).await?;
        if let Some(e) = downs.iter().find(|e| e["type"] == "agent.down") {
            return Ok(Some(format!("false agent.down after a restart: {e}")));
        }
        let open = c.open_requests().await?;
        Ok((!open.is_empty()).then(|| format!("a request opened after a restart: {open:?}")))
    };
    // Agents come back as their reconnect backoff (up to 30s with jitter)
    // allows; no alert meanwhile, and all end up live.
    wait_until(
        Duration::from_secs(45),
        "all three agents live again, no alert",
        async || {
            if let Some(why) = no_alert().await? {
                return Ok::<_, anyhow::Error>(Seen::Violated(why));
            }
            let agents = c.agents().await?;
            let live = agents.iter().filter(|a| a["liveness"] == "live").count();
            Ok(if live == FLEET.len() {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("{live} live: {agents:?}"))
            })
        },
    )
    .await?;
    // And more than two windows later, still no alert.
    over_heartbeats(
        &c,
        FLEET[0].name,
        2 * MISSED + 1,
        "no agent is declared dead",
        &mut no_alert,
    )
    .await?;
    Ok(())
}
