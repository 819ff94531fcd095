//! `Guard`: what one session takes from its agent beyond a well-formed
//! message, and how a misbehaving agent is told and counted. Pure: the
//! session hands it each result, the assignments it forwarded and the time.
//!
//! The policy, result by result:
//!
//! | result | answer | session |
//! | --- | --- | --- |
//! | seq at or below the welcome's `last_committed_seq` | accepted: a replay, stored idempotently | kept |
//! | seq at or below one already received in this session | dropped (`seq_backwards`): the agent sends in order, so it is a resend or a numbering bug | kept |
//! | seq more than `MAX_SEQ_JUMP` above the highest seen | refused: every later seq would be out of reach | `INVALID_ARGUMENT` |
//! | a check that is not configured | dropped (`unknown_check`) | kept: a reload or restart may have removed it while the agent held results |
//! | a configured check not assigned to the agent | dropped (`unassigned_check`), unless within [`REASSIGNMENT_GRACE`] of the session's start (replayed results probed under an earlier assignment) or of the check's removal (a probe in flight when it was moved) | kept |
//!
//! Dropped results are not acked by themselves; the ack of a later result
//! covers them (acks are cumulative), so a well-behaved agent never sees
//! the difference. Each [`Reason`] is counted every time and logged once
//! per session ([`Guard::first`]).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use picket_proto::contract::limits::MAX_SEQ_JUMP;
use tokio::time::Instant;

use crate::domain::{AssignmentKind, AssignmentPart, ProbeResult, ServiceId};

/// How long results for a check stay welcome after it left the agent's
/// assignment (or after the session started): longer than a probe's
/// timeout plus the trip of its result.
pub const REASSIGNMENT_GRACE: Duration = Duration::from_secs(120);

/// Why something an agent sent was not taken: the `reason` label of
/// `picket_link_rejected_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A message over the size limit.
    TooLarge,
    /// A Hello outside the contract's limits.
    BadHello,
    /// The first message was not a Hello.
    NoHello,
    /// No Hello within the time allowed.
    HelloTimeout,
    /// A second Hello in one session.
    SecondHello,
    /// An empty message.
    Malformed,
    /// A result that fails conversion (bad status code, error kind, ...).
    InvalidResult,
    UnknownCheck,
    UnassignedCheck,
    SeqBackwards,
    SeqJump,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TooLarge => "too_large",
            Reason::BadHello => "bad_hello",
            Reason::NoHello => "no_hello",
            Reason::HelloTimeout => "hello_timeout",
            Reason::SecondHello => "second_hello",
            Reason::Malformed => "malformed",
            Reason::InvalidResult => "invalid_result",
            Reason::UnknownCheck => "unknown_check",
            Reason::UnassignedCheck => "unassigned_check",
            Reason::SeqBackwards => "seq_backwards",
            Reason::SeqJump => "seq_jump",
        }
    }
}

/// What becomes of one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    Accept,
    Drop(Reason),
    /// The session ends with `INVALID_ARGUMENT` and this text.
    Refuse(String),
}

/// One session's view of its agent.
#[derive(Debug)]
pub struct Guard {
    started: Instant,
    /// The checks of the last assignment forwarded to the agent.
    assigned: HashSet<ServiceId>,
    /// A full set being forwarded in parts: its generation and ids so far.
    full: Option<(u64, HashSet<ServiceId>)>,
    /// Checks taken out of the assignment in this session, and when.
    removed: HashMap<ServiceId, Instant>,
    /// The welcome's `last_committed_seq`.
    committed: u64,
    /// The highest seq received in this session.
    highest: Option<u64>,
    /// Reasons already logged in this session.
    logged: HashSet<Reason>,
}

impl Guard {
    pub fn new(last_committed: u64, now: Instant) -> Guard {
        Guard {
            started: now,
            assigned: HashSet::new(),
            full: None,
            removed: HashMap::new(),
            committed: last_committed,
            highest: None,
            logged: HashSet::new(),
        }
    }

    /// The session forwarded one part of an assignment update at `now`:
    /// a full set counts once its last part went out, a delta at once.
    pub fn part(&mut self, part: &AssignmentPart, now: Instant) {
        match &part.kind {
            AssignmentKind::Full => {
                let mut full = match self.full.take() {
                    Some((generation, ids)) if generation == part.generation => ids,
                    _ => HashSet::new(),
                };
                full.extend(part.checks.iter().map(|c| c.id.clone()));
                if part.last {
                    self.assigned(full, now);
                } else {
                    self.full = Some((part.generation, full));
                }
            }
            AssignmentKind::Delta { .. } => {
                for c in &part.checks {
                    self.removed.remove(&c.id);
                    self.assigned.insert(c.id.clone());
                }
                for id in &part.removed {
                    if self.assigned.remove(id) {
                        self.removed.insert(id.clone(), now);
                    }
                }
            }
            AssignmentKind::Unchanged { ids } => self.assigned(ids.iter().cloned(), now),
        }
    }

    /// The session forwarded an assignment of `checks` at `now`.
    pub fn assigned(&mut self, checks: impl IntoIterator<Item = ServiceId>, now: Instant) {
        let new: HashSet<ServiceId> = checks.into_iter().collect();
        for gone in self.assigned.difference(&new) {
            self.removed.insert(gone.clone(), now);
        }
        self.removed
            .retain(|s, at| !new.contains(s) && now < *at + REASSIGNMENT_GRACE);
        self.assigned = new;
    }

    /// Judges one result; `known` tells whether a check is configured.
    pub fn judge(
        &mut self,
        r: &ProbeResult,
        known: impl Fn(&ServiceId) -> bool,
        now: Instant,
    ) -> Judged {
        let floor = self.highest.unwrap_or(0).max(self.committed);
        if r.seq > floor.saturating_add(MAX_SEQ_JUMP) {
            return Judged::Refuse(format!(
                "result seq {} jumps more than {MAX_SEQ_JUMP} past {floor}, the highest seen",
                r.seq
            ));
        }
        if r.seq > self.committed {
            if self.highest.is_some_and(|h| r.seq <= h) {
                return Judged::Drop(Reason::SeqBackwards);
            }
            self.highest = Some(r.seq);
        }
        if !known(&r.service) {
            return Judged::Drop(Reason::UnknownCheck);
        }
        let grace = |since: Instant| now < since + REASSIGNMENT_GRACE;
        let welcome = self.assigned.contains(&r.service)
            || grace(self.started)
            || self.removed.get(&r.service).is_some_and(|at| grace(*at));
        if welcome {
            Judged::Accept
        } else {
            Judged::Drop(Reason::UnassignedCheck)
        }
    }

    /// True the first time `reason` comes up in this session: log it then,
    /// only count it afterwards.
    pub fn first(&mut self, reason: Reason) -> bool {
        self.logged.insert(reason)
    }
}

#[cfg(test)]
mod tests;
