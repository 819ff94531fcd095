//! Property tests: the tracker driven the way the evaluator actor drives it,
//! by generated sequences of observations, timer firings, votes (duplicated,
//! replayed, for old or unknown rounds, from agents not asked), maintenance
//! toggles and agents coming and going, with a model of the requests the
//! lifecycle keeps (a `Down` verdict opens one unless one is open, an `Up`
//! verdict closes it, as `Store::service_down` / `service_up` do), and of
//! manual closes (after one, no request opens until an `Up` verdict).
//!
//! Like the actor, [`Sim`] arms a start timer per `ScheduleRound` and never
//! cancels it (a stale one fires into whatever state the tracker is in by
//! then), and arms a deadline for each round that starts.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::domain::ErrorKind;

/// Agents that exist; the first `live` of them are live.
const AGENTS: u8 = 4;

#[derive(Debug, Clone)]
enum Round {
    /// The running round, or the last one started.
    Latest,
    /// Any round started so far (index into the history).
    Old(usize),
    /// A round id the evaluator never issued.
    Foreign(u64),
}

#[derive(Debug, Clone)]
enum Op {
    /// A scheduled probe result.
    Observe(bool),
    /// The oldest pending start timer fires.
    FireStart,
    /// A recheck answer from agent `a{agent}`.
    Vote {
        round: Round,
        agent: u8,
        ok: bool,
    },
    /// A vote delivered earlier arrives again.
    Replay(usize),
    /// One of the pending round deadlines fires (any, not only the oldest).
    Deadline(usize),
    Maintenance(bool),
    /// The open request (if any) is closed by hand.
    CloseByHand,
    /// The directory now lists this many live agents for the service.
    Live(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let round = prop_oneof![
        3 => Just(Round::Latest),
        1 => any::<usize>().prop_map(Round::Old),
        1 => (1u64..5).prop_map(Round::Foreign),
    ];
    prop_oneof![
        4 => any::<bool>().prop_map(Op::Observe),
        3 => Just(Op::FireStart),
        6 => (round, 1..=AGENTS + 1, any::<bool>())
            .prop_map(|(round, agent, ok)| Op::Vote { round, agent, ok }),
        2 => any::<usize>().prop_map(Op::Replay),
        2 => any::<usize>().prop_map(Op::Deadline),
        1 => any::<bool>().prop_map(Op::Maintenance),
        1 => (0..=AGENTS).prop_map(Op::Live),
        1 => Just(Op::CloseByHand),
    ]
}

fn quorum() -> impl Strategy<Value = Quorum> {
    prop_oneof![
        Just(Quorum::Majority),
        Just(Quorum::All),
        Just(Quorum::Any),
        (1u32..=3).prop_map(Quorum::AtLeast),
    ]
}

/// A stored state to resume from, and whether a request is open. A `down`
/// service always has its request; an `up` one never has.
fn start() -> impl Strategy<Value = (ServiceState, bool)> {
    use ServiceState::*;
    prop_oneof![
        Just((Up, false)),
        Just((Down, true)),
        (
            prop_oneof![Just(Unknown), Just(Suspect), Just(Maintenance)],
            any::<bool>()
        ),
    ]
}

fn agent(i: u8) -> AgentId {
    format!("a{i}").into()
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

/// Whether `from → to` is an edge of the graph in the module doc.
fn documented(from: ServiceState, to: ServiceState) -> bool {
    use ServiceState::*;
    matches!(
        (from, to),
        (Unknown, Up)
            | (Up | Unknown, Suspect)
            | (Suspect | Unknown, Down)
            | (Suspect | Down, Up)
            | (_, Maintenance)
            | (_, Unknown)
            | (Up | Suspect | Degraded, Degraded)
            | (Degraded, Up | Suspect | Down)
    )
}

/// The evaluator actor around one tracker, and the requests of the service.
struct Sim {
    tracker: Tracker,
    policy: Policy,
    live: u8,
    next_round: u64,
    /// Round ids issued so far, oldest first.
    rounds: Vec<u64>,
    /// Start timers armed and not yet fired.
    starts: usize,
    /// Deadline timers armed and not yet fired.
    deadlines: Vec<u64>,
    /// Votes delivered so far: round, agent, ok.
    delivered: Vec<(u64, u8, bool)>,
    /// The state the lifecycle has stored (from the verdicts).
    stored: ServiceState,
    /// Open requests of the service in the model.
    open: usize,
    /// A request was closed by hand and the service has not recovered
    /// since: no request may open.
    held: bool,
    /// Every state change, in order.
    path: Vec<(ServiceState, ServiceState)>,
}

impl Sim {
    fn new((state, open): (ServiceState, bool), policy: Policy, live: u8) -> Self {
        let tracker = Tracker::new(state, open);
        Sim {
            stored: tracker.state(),
            tracker,
            policy,
            live,
            next_round: 1_000,
            rounds: Vec::new(),
            starts: 0,
            deadlines: Vec::new(),
            delivered: Vec::new(),
            open: usize::from(open),
            held: false,
            path: Vec::new(),
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let policy = self.policy;
        let effects = match *op {
            Op::Observe(ok) => self.tracker.observe(ok, &policy),
            Op::FireStart => self.fire_start(),
            Op::Vote {
                ref round,
                agent,
                ok,
            } => {
                let id = match *round {
                    Round::Latest => self.rounds.last().copied().unwrap_or(1),
                    Round::Old(i) if !self.rounds.is_empty() => self.rounds[i % self.rounds.len()],
                    Round::Old(_) => 1,
                    Round::Foreign(id) => id,
                };
                self.vote(id, agent, ok)
            }
            Op::Replay(i) if !self.delivered.is_empty() => {
                let (id, agent, ok) = self.delivered[i % self.delivered.len()];
                self.vote(id, agent, ok)
            }
            Op::Replay(_) => Vec::new(),
            Op::Deadline(i) if !self.deadlines.is_empty() => {
                let id = self.deadlines.remove(i % self.deadlines.len());
                self.tracker.round_deadline(id, &policy)
            }
            Op::Deadline(_) => Vec::new(),
            Op::Maintenance(on) => self.tracker.set_maintenance(on),
            // The API refuses to close a request that is not open.
            Op::CloseByHand if self.open > 0 => {
                self.tracker.closed_by_hand();
                self.open = 0;
                self.held = self.stored != ServiceState::Up;
                Vec::new()
            }
            Op::CloseByHand => Vec::new(),
            Op::Live(n) => {
                let gone = self.live > 0 && n == 0;
                self.live = n;
                if gone {
                    self.tracker.agents_gone()
                } else {
                    // The actor drops the streaks of agents no longer live.
                    (n + 1..=AGENTS + 1)
                        .flat_map(|i| self.tracker.drop_agent(&agent(i), &policy))
                        .collect()
                }
            }
        };
        self.apply(effects)
    }

    fn fire_start(&mut self) -> Vec<Effect> {
        if self.starts == 0 {
            return Vec::new();
        }
        self.starts -= 1;
        self.next_round += 1;
        let id = self.next_round;
        self.rounds.push(id);
        let voters = if self.tracker.suppressed() {
            BTreeMap::new()
        } else {
            (1..=self.live)
                .map(|i| (agent(i), format!("agent-{i}")))
                .collect()
        };
        let effects = self.tracker.start_round(id, voters, &self.policy);
        if self.tracker.round_id() == Some(id) {
            self.deadlines.push(id);
        }
        effects
    }

    fn vote(&mut self, id: u64, who: u8, ok: bool) -> Vec<Effect> {
        self.delivered.push((id, who, ok));
        let time_ms = i64::try_from(self.delivered.len()).unwrap_or(i64::MAX);
        self.tracker
            .vote(id, &agent(who), outcome(ok), time_ms, &self.policy)
    }

    /// Carries out effects as the actor and the lifecycle do, checking each
    /// verdict against the model.
    fn apply(&mut self, effects: Vec<Effect>) -> Result<(), TestCaseError> {
        let mut queued = std::collections::VecDeque::from(effects);
        while let Some(effect) = queued.pop_front() {
            let (from, to) = match effect {
                Effect::ScheduleRound { .. } => {
                    self.starts += 1;
                    continue;
                }
                Effect::Verdict(Verdict::LocalFailure { votes }) => {
                    prop_assert!(votes.iter().all(|v| !v.outcome.ok));
                    continue;
                }
                Effect::Verdict(Verdict::CertExpiring { .. }) => {
                    prop_assert!(false, "the tracker decides no certificate warning");
                    continue;
                }
                Effect::Verdict(Verdict::State { from, to }) => {
                    prop_assert!(
                        to != ServiceState::Down || self.held,
                        "down without a request"
                    );
                    prop_assert!(
                        to != ServiceState::Up || self.open == 0,
                        "up, request left open"
                    );
                    (from, to)
                }
                Effect::Verdict(Verdict::Down { from, votes }) => {
                    prop_assert_ne!(from, ServiceState::Down, "confirmed down twice");
                    prop_assert!(!self.held, "a request opened before the recovery");
                    prop_assert!(!votes.is_empty() && votes.iter().all(|v| !v.outcome.ok));
                    // `service_down` links to the open request.
                    self.open = self.open.max(1);
                    (from, ServiceState::Down)
                }
                Effect::Verdict(Verdict::Degraded { from, agents }) => {
                    prop_assert!(!agents.is_empty(), "degraded without failing agents");
                    prop_assert_eq!(self.open, 0, "degraded with a request open");
                    // As the actor does, agents no longer live are dropped.
                    let policy = self.policy;
                    for a in (self.live + 1..=AGENTS + 1).map(agent) {
                        if agents.iter().any(|d| d.agent_id == a) {
                            queued.extend(self.tracker.drop_agent(&a, &policy));
                        }
                    }
                    (from, ServiceState::Degraded)
                }
                Effect::Verdict(Verdict::DegradedEnded) => {
                    (ServiceState::Degraded, ServiceState::Up)
                }
                Effect::Verdict(Verdict::Up {
                    from, had_request, ..
                }) => {
                    prop_assert_eq!(had_request, self.open > 0 || self.held);
                    self.open = 0;
                    self.held = false;
                    (from, ServiceState::Up)
                }
            };
            prop_assert_eq!(from, self.stored, "verdict from a state not stored");
            if from != to {
                prop_assert!(documented(from, to), "undocumented {} → {}", from, to);
                self.path.push((from, to));
            }
            self.stored = to;
        }
        prop_assert!(self.open <= 1, "two open requests");
        prop_assert_eq!(self.tracker.state(), self.stored);
        prop_assert_eq!(self.tracker.has_open_request, self.open > 0);
        prop_assert_eq!(self.tracker.held(), self.held);
        Ok(())
    }

    /// The service recovers: maintenance over, agents live, every probe and
    /// every vote ok, every timer fires.
    fn recover(&mut self) -> Result<(), TestCaseError> {
        self.step(&Op::Maintenance(false))?;
        self.step(&Op::Live(self.live.max(1)))?;
        for _ in 0..4 {
            if let Some(id) = self.tracker.round_id() {
                for a in 1..=self.live {
                    let effects = self.vote(id, a, true);
                    self.apply(effects)?;
                }
            }
            while !self.deadlines.is_empty() {
                self.step(&Op::Deadline(0))?;
            }
            for a in 1..=self.live {
                let effects = self.tracker.observe_from(&agent(a), true, &self.policy);
                self.apply(effects)?;
            }
            while self.starts > 0 {
                self.step(&Op::FireStart)?;
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Whatever order, duplication or staleness the inputs come in, every
    /// verdict follows the documented graph, agrees with the stored state
    /// and the model's requests, and never leaves two requests open; once
    /// the service recovers, its request is closed and it is up.
    #[test]
    fn requests_follow_the_service_under_any_input_order(
        start in start(),
        quorum in quorum(),
        failures_before_down in 1u32..=3,
        live in 0..=AGENTS,
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let policy = Policy {
            recheck_delay: Duration::from_secs(2),
            recheck_timeout: Duration::from_secs(12),
            quorum,
            failures_before_down,
            cert_expiry_warning: std::time::Duration::from_secs(14 * 86_400),
            degraded_after: failures_before_down,
        };
        let mut sim = Sim::new(start, policy, live);
        for op in &ops {
            sim.step(op)?;
        }
        sim.recover()?;
        prop_assert_eq!(sim.tracker.state(), ServiceState::Up, "path {:?}", sim.path);
        prop_assert_eq!(sim.open, 0, "request left open; path {:?}", sim.path);
        prop_assert!(!sim.held, "held after the recovery; path {:?}", sim.path);
    }
}

/// Found by the property above: a start timer armed before maintenance
/// fired after it, when the service was already back up, and started a
/// round nobody scheduled; one failing vote then took it straight from
/// `up` to `down`, skipping `suspect`. A stale timer now starts nothing.
#[test]
fn a_start_timer_from_before_maintenance_starts_no_round() -> Result<(), TestCaseError> {
    let policy = Policy {
        recheck_delay: Duration::from_secs(2),
        recheck_timeout: Duration::from_secs(12),
        quorum: Quorum::Majority,
        failures_before_down: 1,
        cert_expiry_warning: std::time::Duration::from_secs(14 * 86_400),
        degraded_after: 2,
    };
    let mut sim = Sim::new((ServiceState::Unknown, false), policy, 1);
    for op in [
        Op::Observe(false),
        Op::Maintenance(true),
        Op::Maintenance(false),
        Op::Observe(true),
        Op::FireStart,
    ] {
        sim.step(&op)?;
    }
    prop_assert_eq!(sim.tracker.round_id(), None);
    sim.step(&Op::Vote {
        round: Round::Latest,
        agent: 1,
        ok: false,
    })?;
    prop_assert_eq!(sim.tracker.state(), ServiceState::Up);
    prop_assert_eq!(sim.open, 0);
    Ok(())
}
