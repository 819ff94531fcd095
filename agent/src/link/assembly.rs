//! `Assembly`: the agent's check set as the collector's assignment updates
//! build it, pure. An update arrives in parts; nothing of it is applied
//! until its last part is in, so a half-received set never stops a check
//! (the scheduler keeps running the set it has). A full set replaces the
//! set; a delta applies on top of the generation just before it and
//! nothing else; "unchanged" keeps the set, and only when the collector
//! names the digest the set already has.
//!
//! Anything out of order (a delta on another generation, which means a part
//! went missing; an update begun before the previous one ended) is an
//! [`AssemblyError`]: the link ends the session, and the next Hello's
//! digest is that of the last set completed, so the collector sends the
//! full set unless it equals that one. The set and its digest outlive
//! sessions, not the process.
//!
//! Checks are held as `Arc<Check>`, shared with the scheduler's plan: a
//! check's definition is in memory once, and handing the scheduler the
//! whole set after a delta copies pointers, not checks.

use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::{AssignmentPart, Check, CheckId, PartKind};

/// An assignment part out of order; the session ends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssemblyError {
    /// A delta that does not apply to the set the agent has.
    #[error("assignment {generation} is a delta on {base}, but this agent has {have:?}")]
    Gap {
        generation: u64,
        base: u64,
        have: Option<u64>,
    },
    /// A part of another update arrived before the last part of this one.
    #[error("assignment {got} began before assignment {pending} was complete")]
    Interleaved { pending: u64, got: u64 },
    /// "Unchanged", naming a set the agent does not have.
    #[error(
        "assignment {generation} says unchanged with digest {digest:#x}, but this agent has {have:#x}"
    )]
    NotOurs {
        generation: u64,
        digest: u64,
        have: u64,
    },
}

/// An update being received.
#[derive(Debug)]
struct Pending {
    generation: u64,
    kind: PartKind,
    checks: Vec<Check>,
    removed: Vec<CheckId>,
}

/// The set the agent runs and the update being received.
#[derive(Debug, Default)]
pub struct Assembly {
    set: HashMap<CheckId, Arc<Check>>,
    /// The generation of `set` in this session; `None` before the
    /// session's first update.
    generation: Option<u64>,
    /// The collector's digest of `set`; 0 before any update completed.
    digest: u64,
    pending: Option<Pending>,
}

impl Assembly {
    /// What the next Hello carries: the digest of the set last completed.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The checks in the set last completed.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether no check is in the set.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// A new session: generations start again, a part-received update is
    /// forgotten (the set stays).
    pub fn start_session(&mut self) {
        self.generation = None;
        self.pending = None;
    }

    /// Takes one part. `Some(set)` when it completed an update that changes
    /// the set: the whole new set (shared with this assembly), for the
    /// scheduler.
    pub fn take(&mut self, part: AssignmentPart) -> Result<Option<Vec<Arc<Check>>>, AssemblyError> {
        let mut pending = match self.pending.take() {
            Some(p) if p.generation == part.generation && p.kind == part.kind => p,
            Some(p) => {
                return Err(AssemblyError::Interleaved {
                    pending: p.generation,
                    got: part.generation,
                });
            }
            None => self.begin(&part)?,
        };
        pending.checks.extend(part.checks);
        pending.removed.extend(part.removed);
        if !part.last {
            self.pending = Some(pending);
            return Ok(None);
        }
        self.generation = Some(pending.generation);
        self.digest = part.digest;
        match pending.kind {
            PartKind::Unchanged => return Ok(None),
            PartKind::Full => {
                self.set = pending
                    .checks
                    .into_iter()
                    .map(|c| (c.id.clone(), Arc::new(c)))
                    .collect();
            }
            PartKind::Delta { .. } => {
                for id in &pending.removed {
                    self.set.remove(id);
                }
                for c in pending.checks {
                    self.set.insert(c.id.clone(), Arc::new(c));
                }
            }
        }
        Ok(Some(self.set.values().cloned().collect()))
    }

    /// Checks the first part of an update against the set the agent has.
    fn begin(&self, part: &AssignmentPart) -> Result<Pending, AssemblyError> {
        match part.kind {
            PartKind::Delta { base } if self.generation != Some(base) => {
                return Err(AssemblyError::Gap {
                    generation: part.generation,
                    base,
                    have: self.generation,
                });
            }
            PartKind::Unchanged if part.digest != self.digest => {
                return Err(AssemblyError::NotOurs {
                    generation: part.generation,
                    digest: part.digest,
                    have: self.digest,
                });
            }
            _ => {}
        }
        Ok(Pending {
            generation: part.generation,
            kind: part.kind,
            checks: Vec::new(),
            removed: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests;
