//! [`Plan`]: the assigned checks and one min-heap of their next runs; pure
//! (no tasks, no IO), driven by the scheduler actor with tokio's now.
//!
//! Each assigned check is a [`Slot`] holding its definition, its phase and
//! two flags shared with the probe task: `live` (still assigned with this
//! definition) and `busy` (a scheduled probe of this check id is running or
//! handing over its report). The heap holds `(next run, slot)`; a slot that
//! was removed or redefined stays in the heap until its time comes and is
//! then dropped (`live` is false), so a removal costs no heap search.
//!
//! When a run is due, its next run is pushed at once, one interval later. If
//! the previous probe is still `busy` at a due time, that run is skipped:
//! the check runs again at its next slot after the probe ends, and one check
//! never has two scheduled probes in flight. A redefined check keeps its
//! `busy` flag, so the rule holds across redefinitions too.

use std::cmp::Ordering as CmpOrdering;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::phase::{Timeline, phase};
use crate::domain::{AgentId, Check, CheckId};

/// One assigned check, shared between the plan and its probe tasks.
#[derive(Debug)]
pub struct Slot {
    /// The definition the collector sent (shared with the link's
    /// assembly).
    pub check: Arc<Check>,
    /// Offset of its runs within the interval.
    pub phase: Duration,
    /// False once removed or redefined: its reports are dropped.
    pub live: AtomicBool,
    /// True while a scheduled probe of this check id runs (shared by the
    /// slots of one check id across redefinitions).
    pub busy: Arc<AtomicBool>,
    /// Last outcome, for logging transitions: 0 none yet, 1 ok, 2 failing.
    pub last_ok: AtomicU8,
}

/// A run in the heap; ordered by time, earliest on top.
struct Due {
    at: Instant,
    slot: Arc<Slot>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.at.cmp(&self.at)
    }
}

/// What an assignment changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Checks new or redefined.
    pub started: usize,
    /// Checks removed or redefined.
    pub stopped: usize,
}

/// The assigned checks and their next runs.
pub struct Plan {
    agent_id: AgentId,
    timeline: Timeline,
    slots: HashMap<CheckId, Arc<Slot>>,
    heap: BinaryHeap<Due>,
}

impl Plan {
    /// An empty plan for `agent_id`, with slots reckoned on `timeline`.
    pub fn new(agent_id: AgentId, timeline: Timeline) -> Plan {
        Plan {
            agent_id,
            timeline,
            slots: HashMap::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Number of checks assigned.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no check is assigned.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The slot of `id`, if assigned.
    pub fn get(&self, id: &CheckId) -> Option<&Arc<Slot>> {
        self.slots.get(id)
    }

    /// Replaces the assignment at `now`: unchanged checks keep their runs;
    /// new and redefined ones run first at their next slot (within one
    /// interval); the others stop.
    pub fn assign(&mut self, checks: Vec<Arc<Check>>, now: Instant) -> Changes {
        let mut changes = Changes::default();
        let mut wanted: HashMap<CheckId, Arc<Check>> =
            checks.into_iter().map(|c| (c.id.clone(), c)).collect();
        let mut carried_busy = HashMap::new();
        self.slots.retain(|id, slot| {
            if wanted
                .get(id)
                .is_some_and(|c| Arc::ptr_eq(c, &slot.check) || **c == *slot.check)
            {
                wanted.remove(id);
                return true;
            }
            slot.live.store(false, Ordering::Relaxed);
            if wanted.contains_key(id) {
                carried_busy.insert(id.clone(), slot.busy.clone());
            }
            changes.stopped += 1;
            false
        });
        for (id, check) in wanted {
            let phase = phase(&self.agent_id, &id, check.interval);
            let at = self.timeline.next_slot(phase, check.interval, now);
            let slot = Arc::new(Slot {
                busy: carried_busy.remove(&id).unwrap_or_default(),
                check,
                phase,
                live: AtomicBool::new(true),
                last_ok: AtomicU8::new(0),
            });
            if let Entry::Vacant(v) = self.slots.entry(id) {
                v.insert(slot.clone());
                self.heap.push(Due { at, slot });
                changes.started += 1;
            }
        }
        changes
    }

    /// When the earliest run is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|d| d.at)
    }

    /// Moves the runs due at `now` into `out` (marking each busy) and
    /// schedules their next runs; skips runs whose previous probe is busy.
    pub fn take_due(&mut self, now: Instant, out: &mut Vec<Arc<Slot>>) {
        while self.heap.peek().is_some_and(|d| d.at <= now) {
            let Some(Due { at, slot }) = self.heap.pop() else {
                break;
            };
            if !slot.live.load(Ordering::Relaxed) {
                continue;
            }
            let interval = slot.check.interval.max(Duration::from_millis(1));
            let mut next = at + interval;
            if next <= now {
                // Far behind (a stalled runtime): back to the next slot.
                next = self
                    .timeline
                    .next_slot(slot.phase, interval, now + Duration::from_nanos(1));
            }
            self.heap.push(Due {
                at: next,
                slot: slot.clone(),
            });
            if !slot.busy.swap(true, Ordering::AcqRel) {
                out.push(slot);
            }
        }
    }
}
