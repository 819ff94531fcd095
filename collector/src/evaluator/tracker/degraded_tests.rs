//! Degraded vantage points, step by step: streaks count rounds the quorum
//! did not confirm, a success resets them, a confirmed failure wins.

use std::collections::BTreeMap;
use std::time::Duration;

use super::degraded::RESUMED_WAIT;
use super::*;
use crate::domain::{DegradedAgent, ErrorKind};

fn policy(degraded_after: u32) -> Policy {
    Policy {
        recheck_delay: Duration::from_secs(2),
        recheck_timeout: Duration::from_secs(12),
        quorum: Quorum::Majority,
        failures_before_down: 1,
        cert_expiry_warning: Duration::from_secs(14 * 86_400),
        degraded_after,
    }
}

fn outcome(ok: bool) -> ProbeOutcome {
    ProbeOutcome {
        ok,
        status_code: (ok).then_some(200),
        error_kind: (!ok).then_some(ErrorKind::Connect),
        error: (!ok).then(|| "connect: connection refused".to_owned()),
        duration_us: 1000,
        phases: Default::default(),
        cert_not_after_ms: None,
    }
}

fn id(i: usize) -> AgentId {
    format!("a{i}").into()
}

/// The service's tracker with three agents; `round` runs one recheck round
/// started by `first`'s failure, in which agent i votes `ok[i - 1]`.
struct Three {
    t: Tracker,
    p: Policy,
    next: u64,
}

impl Three {
    fn new(degraded_after: u32) -> Self {
        Self::with_quorum(degraded_after, Quorum::Majority)
    }

    fn with_quorum(degraded_after: u32, quorum: Quorum) -> Self {
        let p = Policy {
            quorum,
            ..policy(degraded_after)
        };
        let mut t = Tracker::new(ServiceState::Unknown, false);
        t.observe_from(&id(2), true, &p);
        Three { t, p, next: 0 }
    }

    fn round(&mut self, first: usize, ok: [bool; 3]) -> Vec<Effect> {
        let mut effects = self.t.observe_from(&id(first), false, &self.p);
        self.next += 1;
        let voters: BTreeMap<AgentId, String> =
            (1..=3).map(|i| (id(i), format!("agent-{i}"))).collect();
        effects.extend(self.t.start_round(self.next, voters, &self.p));
        for (i, ok) in ok.into_iter().enumerate() {
            let time = 1000 * i64::try_from(self.next).unwrap_or(0);
            effects.extend(
                self.t
                    .vote(self.next, &id(i + 1), outcome(ok), time, &self.p),
            );
        }
        effects
    }
}

fn degraded(effects: &[Effect]) -> Vec<Vec<DegradedAgentName>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Verdict(Verdict::Degraded { agents, .. }) => {
                Some(agents.iter().map(|a| a.agent_id.to_string()).collect())
            }
            _ => None,
        })
        .collect()
}

type DegradedAgentName = String;

fn ended(effects: &[Effect]) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::Verdict(Verdict::DegradedEnded)))
}

#[test]
fn one_agent_failing_below_the_quorum_for_degraded_after_rounds_degrades_the_service() {
    let mut s = Three::new(3);
    for _ in 0..2 {
        let effects = s.round(1, [false, true, true]);
        assert!(degraded(&effects).is_empty(), "{effects:?}");
        assert_eq!(s.t.state(), ServiceState::Up);
    }
    let effects = s.round(1, [false, true, true]);
    assert_eq!(degraded(&effects), vec![vec!["a1".to_owned()]]);
    assert_eq!(s.t.state(), ServiceState::Degraded);
    match effects.iter().find_map(|e| match e {
        Effect::Verdict(Verdict::Degraded { from, agents }) => Some((from, agents)),
        _ => None,
    }) {
        Some((from, agents)) => {
            assert_eq!(*from, ServiceState::Suspect);
            assert_eq!(agents[0].since_ms, 1000, "since the streak's first round");
            assert_eq!(agents[0].error, "connect: connection refused");
            assert_eq!(agents[0].name, "agent-1");
        }
        None => panic!("no degraded verdict"),
    }
    // Its further failures start no round and say nothing new.
    assert!(s.t.observe_from(&id(1), false, &s.p).is_empty());
}

#[test]
fn a_success_from_the_failing_agent_resets_its_count() {
    let mut s = Three::new(3);
    s.round(1, [false, true, true]);
    s.round(1, [false, true, true]);
    assert!(s.t.observe_from(&id(1), true, &s.p).is_empty());
    let effects = s.round(1, [false, true, true]);
    assert!(
        degraded(&effects).is_empty(),
        "count restarted: {effects:?}"
    );
    s.round(1, [false, true, true]);
    let effects = s.round(1, [false, true, true]);
    assert_eq!(degraded(&effects).len(), 1);
    // Once degraded, its success ends the degradation: up again.
    let effects = s.t.observe_from(&id(1), true, &s.p);
    assert!(ended(&effects), "{effects:?}");
    assert_eq!(s.t.state(), ServiceState::Up);
}

#[test]
fn a_second_failing_agent_changes_the_set_and_reports_again() {
    let mut s = Three::with_quorum(1, Quorum::All);
    let effects = s.round(1, [false, true, true]);
    assert_eq!(degraded(&effects), vec![vec!["a1".to_owned()]]);
    // a2 fails too; a1 and a3 vote: a1 still fails, the quorum is up.
    let effects = s.round(2, [false, false, true]);
    assert_eq!(
        degraded(&effects),
        vec![vec!["a1".to_owned(), "a2".to_owned()]]
    );
    // The same set again reports nothing.
    let effects = s.round(3, [false, false, true]);
    assert!(degraded(&effects).is_empty(), "{effects:?}");
}

#[test]
fn a_quorum_confirmed_failure_wins_over_degraded() {
    let mut s = Three::new(1);
    s.round(1, [false, true, true]);
    assert_eq!(s.t.state(), ServiceState::Degraded);
    let effects = s.round(2, [false, false, false]);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Verdict(Verdict::Down { .. }))),
        "{effects:?}"
    );
    assert_eq!(s.t.state(), ServiceState::Down);
    // Recovered by every agent: up, and no streak is left over.
    s.t.observe_from(&id(2), true, &s.p);
    let effects = s.round(1, [true, true, true]);
    assert!(degraded(&effects).is_empty() && !ended(&effects));
    assert_eq!(s.t.state(), ServiceState::Up);
}

#[test]
fn a_dropped_agent_ends_the_degradation_and_votes_from_agents_not_asked_count_nothing() {
    let mut s = Three::new(1);
    s.round(1, [false, true, true]);
    assert_eq!(s.t.state(), ServiceState::Degraded);
    // Muted or gone: its streak ends with it.
    let effects = s.t.drop_agent(&id(1), &s.p);
    assert!(ended(&effects), "{effects:?}");
    assert_eq!(s.t.state(), ServiceState::Up);
    // A round it is not asked in (muted: not a voter) counts nothing of it.
    let mut effects = s.t.observe_from(&id(2), false, &s.p);
    let voters: BTreeMap<AgentId, String> =
        (2..=3).map(|i| (id(i), format!("agent-{i}"))).collect();
    effects.extend(s.t.start_round(99, voters, &s.p));
    effects.extend(s.t.vote(99, &id(1), outcome(false), 5, &s.p));
    effects.extend(s.t.vote(99, &id(2), outcome(true), 5, &s.p));
    effects.extend(s.t.vote(99, &id(3), outcome(true), 5, &s.p));
    assert!(degraded(&effects).is_empty(), "{effects:?}");
    assert!(s.t.streak_agents().is_empty());
}

/// After a restart: a stored `degraded` service resumes its failing
/// agent's streak (further failures start no round and say nothing; a
/// success ends the degradation), and the streak waits `RESUMED_WAIT`
/// for its agent to reconnect, no longer once the agent was seen.
#[test]
fn a_resumed_streak_keeps_the_degradation_and_waits_for_its_agent() {
    let p = policy(3);
    let stored = [DegradedAgent {
        agent_id: id(1),
        name: "agent-1".into(),
        region: String::new(),
        since_ms: 1000,
        error: "connect: connection refused".into(),
    }];
    let resumed = |now| {
        let mut t = Tracker::new(ServiceState::Degraded, false);
        t.restore_streaks(&stored, p.degraded_after, now);
        t
    };
    let mut t = resumed(0);
    assert_eq!(t.streak_agents(), vec![id(1)]);
    assert!(t.observe_from(&id(1), false, &p).is_empty(), "no round");
    assert_eq!(t.state(), ServiceState::Degraded);
    let effects = t.observe_from(&id(1), true, &p);
    assert!(ended(&effects), "{effects:?}");
    assert_eq!(t.state(), ServiceState::Up);

    let wait = RESUMED_WAIT.as_millis() as i64;
    let mut t = resumed(0);
    assert!(
        t.streak_stays(&id(1), false, wait - 1),
        "still reconnecting"
    );
    assert!(!t.streak_stays(&id(1), false, wait), "waited long enough");
    let mut t = resumed(0);
    assert!(t.streak_stays(&id(1), true, 10), "seen");
    assert!(!t.streak_stays(&id(1), false, 20), "seen, then gone");
    // Only a stored `degraded` service resumes streaks.
    let mut up = Tracker::new(ServiceState::Up, false);
    up.restore_streaks(&stored, p.degraded_after, 0);
    assert!(up.streak_agents().is_empty());
}
