//! Where in its interval a check runs: a stable phase from the agent and
//! check ids, and the [`Timeline`] that turns phase slots into tokio
//! instants.
//!
//! The phase is 64-bit FNV-1a over the agent id, a `0xff` byte (which no
//! UTF-8 id contains) and the check id, modulo the interval in whole
//! milliseconds. FNV-1a has no per-process keys (unlike std's
//! `RandomState`), so every process, on every machine, computes the same
//! phase: it is kept across agent restarts, reconnects and reassignments,
//! and it changes only with the interval. Different agents get different
//! phases for the same check, so the agents probing one service do not hit
//! it in the same instant.
//!
//! Slots are aligned on the Unix epoch: a check runs at the wall-clock times
//! `t` (in ms since the epoch) with `t mod interval == phase`. The
//! [`Timeline`] pairs one tokio instant with the wall clock once, when the
//! scheduler starts; every slot after that is reckoned on the monotonic
//! clock from that anchor, so a wall-clock step while the agent runs does
//! not move its probes, and a restart reads the wall clock again and lands
//! on the same slots.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::domain::{AgentId, CheckId};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `parts`, one after the other.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        for &byte in *part {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

/// The phase of `check` on `agent` within `interval`: in whole
/// milliseconds, below the interval (zero for intervals under 1 ms).
pub fn phase(agent: &AgentId, check: &CheckId, interval: Duration) -> Duration {
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    if interval_ms == 0 {
        return Duration::ZERO;
    }
    let hash = fnv1a(&[
        agent.as_str().as_bytes(),
        &[0xff],
        check.as_str().as_bytes(),
    ]);
    Duration::from_millis(hash % interval_ms)
}

/// One tokio instant paired with the wall clock, from which slots are
/// reckoned.
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    /// The tokio instant of the pairing.
    anchor: Instant,
    /// The wall-clock time at `anchor`, in ns since the Unix epoch.
    anchor_wall_ns: u128,
}

impl Timeline {
    /// Pairs tokio's now with the system clock's now.
    pub fn now() -> Timeline {
        Timeline::at(SystemTime::now())
    }

    /// Pairs tokio's now with `wall` (tests and benches choose the wall
    /// clock).
    pub fn at(wall: SystemTime) -> Timeline {
        let anchor_wall_ns = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Timeline {
            anchor: Instant::now(),
            anchor_wall_ns,
        }
    }

    /// Wall-clock time of `instant`, in ns since the Unix epoch.
    pub fn wall_ns(&self, instant: Instant) -> u128 {
        self.anchor_wall_ns + instant.saturating_duration_since(self.anchor).as_nanos()
    }

    /// The first slot of (`phase`, `interval`) at or after `not_before`.
    pub fn next_slot(&self, phase: Duration, interval: Duration, not_before: Instant) -> Instant {
        let interval = interval.as_nanos().max(1);
        let phase = phase.as_nanos() % interval;
        let wall = self.wall_ns(not_before);
        let mut slot = wall - wall % interval + phase;
        if slot < wall {
            slot += interval;
        }
        let after_anchor = u64::try_from(slot - self.anchor_wall_ns).unwrap_or(u64::MAX);
        self.anchor + Duration::from_nanos(after_anchor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(&[b"foo", b"bar"]), 0x85944171f73967e8);
    }

    #[test]
    fn phase_is_a_fixed_function_of_the_ids_and_interval() {
        let agent: AgentId = "0b6f3d9e-4a51-4c1e-9d7e-1f2a3b4c5d6e".to_owned().into();
        let check: CheckId = "svc-checkout-api".to_owned().into();
        let minute = Duration::from_secs(60);
        // A golden value: a keyed or per-process hash would break it.
        assert_eq!(
            phase(&agent, &check, minute),
            Duration::from_millis(GOLDEN_MS)
        );
        let ten = phase(&agent, &check, Duration::from_secs(10));
        assert!(ten < Duration::from_secs(10));
        assert_eq!(phase(&agent, &check, Duration::ZERO), Duration::ZERO);
    }

    const GOLDEN_MS: u64 = 57_308;

    #[tokio::test(start_paused = true)]
    async fn slots_are_epoch_aligned_and_at_or_after() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_000_123_456);
        let timeline = Timeline::at(wall);
        let now = Instant::now();
        let (phase, interval) = (Duration::from_millis(7_000), Duration::from_secs(60));
        let slot = timeline.next_slot(phase, interval, now);
        assert_eq!(
            timeline.wall_ns(slot) % interval.as_nanos(),
            phase.as_nanos()
        );
        assert!(slot >= now && slot - now < interval);
        // A slot exactly at `not_before` is that slot.
        assert_eq!(timeline.next_slot(phase, interval, slot), slot);
        let after = timeline.next_slot(phase, interval, slot + Duration::from_nanos(1));
        assert_eq!(after - slot, interval);
    }
}
