//! The double-check state machine, step by step.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::domain::ErrorKind;

fn policy(quorum: Quorum, failures_before_down: u32) -> Policy {
    Policy {
        recheck_delay: Duration::from_secs(2),
        recheck_timeout: Duration::from_secs(12),
        quorum,
        failures_before_down,
        cert_expiry_warning: std::time::Duration::from_secs(14 * 86_400),
        degraded_after: 3,
    }
}

fn outcome(ok: bool) -> ProbeOutcome {
    ProbeOutcome {
        ok,
        status_code: Some(if ok { 200 } else { 503 }),
        error_kind: (!ok).then_some(ErrorKind::HttpStatus),
        error: (!ok).then(|| "HTTP 503".to_owned()),
        duration_us: 1000,
        phases: Default::default(),
        cert_not_after_ms: None,
    }
}

fn voters(n: usize) -> BTreeMap<AgentId, String> {
    (1..=n)
        .map(|i| (format!("a{i}").into(), format!("agent-{i}")))
        .collect()
}

/// A step and the effect kinds it must produce.
enum Step {
    Observe(bool),
    Start(u64, usize),
    Vote(u64, &'static str, bool),
    Deadline(u64),
    SetMaintenance(bool),
    /// The open request is closed by hand (`picketctl requests close`).
    CloseByHand,
    AgentsGone,
}

fn kind(e: &Effect) -> String {
    match e {
        Effect::ScheduleRound { .. } => "schedule".into(),
        Effect::Verdict(Verdict::State { to, .. }) => format!("state:{to}"),
        Effect::Verdict(Verdict::Down { votes, .. }) => format!("down:{}", votes.len()),
        Effect::Verdict(Verdict::Up { had_request, .. }) => format!("up:{had_request}"),
        Effect::Verdict(Verdict::LocalFailure { votes }) => {
            format!(
                "local:{}",
                votes
                    .iter()
                    .map(|v| v.agent.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        Effect::Verdict(Verdict::CertExpiring { not_after_ms, .. }) => {
            format!("cert:{not_after_ms}")
        }
        Effect::Verdict(Verdict::Degraded { agents, .. }) => format!("degraded:{}", agents.len()),
        Effect::Verdict(Verdict::DegradedEnded) => "degraded_ended".into(),
    }
}

/// Runs `steps` from `start` and checks each step's effects and the final state.
fn check(start: ServiceState, policy: &Policy, steps: &[(Step, &[&str])], end: ServiceState) {
    let mut t = Tracker::new(start, false);
    for (i, (step, expected)) in steps.iter().enumerate() {
        let effects = match step {
            Step::Observe(ok) => t.observe(*ok, policy),
            Step::Start(id, n) => t.start_round(*id, voters(*n), policy),
            Step::Vote(id, agent, ok) => t.vote(*id, &(*agent).into(), outcome(*ok), 0, policy),
            Step::Deadline(id) => t.round_deadline(*id, policy),
            Step::SetMaintenance(on) => t.set_maintenance(*on),
            Step::CloseByHand => {
                t.closed_by_hand();
                Vec::new()
            }
            Step::AgentsGone => t.agents_gone(),
        };
        let got: Vec<String> = effects.iter().map(kind).collect();
        assert_eq!(got, *expected, "step {i}");
    }
    assert_eq!(t.state(), end);
}

use ServiceState::*;
use Step::*;

#[test]
fn single_agent_erp_behaviour_fail_wait_fail_open() {
    let p = policy(Quorum::Majority, 1);
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Observe(false), &[]),
            (Start(1, 1), &[]),
            (Vote(1, "a1", false), &["down:1"]),
            (Observe(false), &[]),
        ],
        Down,
    );
}

#[test]
fn a_transient_failure_opens_nothing() {
    let p = policy(Quorum::Majority, 1);
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 1), &[]),
            (Vote(1, "a1", true), &["state:up"]),
        ],
        Up,
    );
}

#[test]
fn recovery_needs_a_round_and_closes_the_request() {
    let p = policy(Quorum::Majority, 1);
    check(
        Down,
        &p,
        &[
            (Observe(true), &["schedule"]),
            (Start(7, 1), &[]),
            (Vote(7, "a1", true), &["up:false"]),
        ],
        Up,
    );
    let mut t = Tracker::new(Down, true);
    t.observe(true, &p);
    t.start_round(7, voters(1), &p);
    let effects = t.vote(7, &"a1".into(), outcome(true), 0, &p);
    assert_eq!(effects.iter().map(kind).collect::<Vec<_>>(), ["up:true"]);
}

#[test]
fn a_failed_recovery_round_stays_down() {
    let p = policy(Quorum::Majority, 1);
    check(
        Down,
        &p,
        &[
            (Observe(true), &["schedule"]),
            (Start(2, 1), &[]),
            (Vote(2, "a1", false), &[]),
            (Observe(true), &["schedule"]),
        ],
        Down,
    );
}

#[test]
fn quorum_across_agents_local_failure_vs_outage() {
    let p = policy(Quorum::Majority, 1);
    // One of three fails: local failure of that agent, back up.
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 3), &[]),
            (Vote(1, "a1", false), &[]),
            (Vote(1, "a2", true), &[]),
            (Vote(1, "a3", true), &["local:a1", "state:up"]),
        ],
        Up,
    );
    // Two of three fail: down.
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 3), &[]),
            (Vote(1, "a1", false), &[]),
            (Vote(1, "a2", false), &[]),
            (Vote(1, "a3", true), &["down:2"]),
        ],
        Down,
    );
}

#[test]
fn deadline_counts_the_answers_received() {
    let p = policy(Quorum::Majority, 1);
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 3), &[]),
            (Vote(1, "a1", false), &[]),
            (Deadline(1), &["down:1"]),
        ],
        Down,
    );
    // Nobody answered: no verdict, the service is unknown.
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 2), &[]),
            (Deadline(1), &["state:unknown"]),
        ],
        Unknown,
    );
    // No live agent to ask at all.
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 0), &["state:unknown"]),
        ],
        Unknown,
    );
}

#[test]
fn votes_from_strangers_stale_rounds_and_duplicates_are_ignored() {
    let p = policy(Quorum::All, 1);
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(5, 2), &[]),
            (Vote(4, "a1", false), &[]),
            (Vote(5, "zz", false), &[]),
            (Vote(5, "a1", false), &[]),
            (Vote(5, "a1", true), &[]),
            (Deadline(4), &[]),
            (Vote(5, "a2", false), &["down:2"]),
        ],
        Down,
    );
}

#[test]
fn failures_before_down_needs_consecutive_confirmed_rounds() {
    let p = policy(Quorum::Majority, 2);
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 1), &[]),
            (Vote(1, "a1", false), &[]),
            (Observe(false), &["schedule"]),
            (Start(2, 1), &[]),
            (Vote(2, "a1", false), &["down:1"]),
        ],
        Down,
    );
    // An ok round in between resets the count.
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 1), &[]),
            (Vote(1, "a1", false), &[]),
            (Observe(true), &["schedule"]),
            (Start(2, 1), &[]),
            (Vote(2, "a1", true), &["state:up"]),
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(3, 1), &[]),
            (Vote(3, "a1", false), &[]),
        ],
        Suspect,
    );
}

#[test]
fn maintenance_suppresses_everything_and_ends_unknown() {
    let p = policy(Quorum::Majority, 1);
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 1), &[]),
            (SetMaintenance(true), &["state:maintenance"]),
            (Vote(1, "a1", false), &[]),
            (Observe(false), &[]),
            (Start(2, 1), &[]),
            (SetMaintenance(false), &["state:unknown"]),
            (Observe(true), &["state:up"]),
        ],
        Up,
    );
}

#[test]
fn a_request_open_before_maintenance_closes_on_the_recovery_after_it() {
    let p = policy(Quorum::Majority, 1);
    let mut t = Tracker::new(Down, true);
    t.set_maintenance(true);
    t.set_maintenance(false);
    assert_eq!(t.state(), Unknown);
    assert_eq!(
        t.observe(true, &p).iter().map(kind).collect::<Vec<_>>(),
        ["schedule"]
    );
    t.start_round(1, voters(1), &p);
    let effects = t.vote(1, &"a1".into(), outcome(true), 0, &p);
    assert_eq!(effects.iter().map(kind).collect::<Vec<_>>(), ["up:true"]);
    // A failure after maintenance finds the request still open: no second one.
    let mut t = Tracker::new(Unknown, true);
    t.observe(false, &p);
    t.start_round(1, voters(1), &p);
    assert_eq!(
        t.vote(1, &"a1".into(), outcome(false), 0, &p)
            .iter()
            .map(kind)
            .collect::<Vec<_>>(),
        ["down:1"]
    );
}

#[test]
fn a_restart_in_suspect_resumes_unknown() {
    assert_eq!(Tracker::new(Suspect, false).state(), Unknown);
}

#[test]
fn losing_every_agent_makes_the_service_unknown_never_down() {
    let p = policy(Quorum::Majority, 1);
    for start in [Up, Suspect, Down, Unknown] {
        let mut t = Tracker::new(start, start == Down);
        t.agents_gone();
        assert_eq!(t.state(), Unknown, "from {start}");
    }
    // A request opened before stays open: the recovery round closes it.
    let mut t = Tracker::new(Down, true);
    t.agents_gone();
    assert_eq!(
        t.observe(true, &p).iter().map(kind).collect::<Vec<_>>(),
        ["schedule"]
    );
    // Maintenance wins.
    let mut t = Tracker::new(Up, false);
    t.set_maintenance(true);
    assert!(t.agents_gone().is_empty());
    assert_eq!(t.state(), Maintenance);
}

/// A down service whose request was closed by hand: staying down, through
/// lost agents and a confirmed failure again, it opens nothing (`state:down`,
/// no `down` verdict); a recovery round ends the hold (announced as up
/// after a request), and the next outage opens a request again.
#[test]
fn a_request_closed_by_hand_holds_until_the_service_recovers() {
    let p = policy(Quorum::Majority, 1);
    check(
        Up,
        &p,
        &[
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(1, 1), &[]),
            (Vote(1, "a1", false), &["down:1"]),
            (CloseByHand, &[]),
            (Observe(false), &[]),
            (AgentsGone, &["state:unknown"]),
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(2, 1), &[]),
            (Vote(2, "a1", false), &["state:down"]),
            (SetMaintenance(true), &["state:maintenance"]),
            (SetMaintenance(false), &["state:unknown"]),
            // An ok probe from unknown is not yet a recovery: a round decides.
            (Observe(true), &["schedule"]),
            (Start(3, 1), &[]),
            (Vote(3, "a1", true), &["up:true"]),
            (Observe(false), &["state:suspect", "schedule"]),
            (Start(4, 1), &[]),
            (Vote(4, "a1", false), &["down:1"]),
        ],
        Down,
    );
}

/// Closing by hand while the service is up holds nothing back.
#[test]
fn a_close_by_hand_while_up_holds_nothing() {
    let mut t = Tracker::new(Up, false);
    t.closed_by_hand();
    assert!(!t.held());
}
