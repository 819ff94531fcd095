//! Assignment updates as the link carries them, pure: the digest of a
//! check set, the difference between the set last pushed and the new one,
//! and an update cut into [`AssignmentPart`]s of at most
//! [`MAX_ASSIGNMENT_PART_CHECKS`] checks and about
//! [`MAX_ASSIGNMENT_PART_BYTES`] of encoded checks each.
//!
//! The byte size of a check is estimated from above without the wire types
//! ([`encoded_bound`]): every string's bytes plus a generous allowance per
//! field for tags and lengths; `link/convert.rs` tests that the bound holds.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use picket_proto::contract::limits::{MAX_ASSIGNMENT_PART_BYTES, MAX_ASSIGNMENT_PART_CHECKS};

use crate::domain::{AssignmentKind, AssignmentPart, CheckSpec, ServiceId};

/// FNV-1a, 64 bits: stable across runs and builds of the same code, unlike
/// the standard library's randomly keyed hasher.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The digest of a check set: FNV-1a over the (id, definition hash) pairs
/// sorted by id, so the order the set was built in does not matter. Never
/// 0 (0 on the wire means "no digest").
pub fn digest(checks: &[Arc<CheckSpec>]) -> u64 {
    let mut pairs: Vec<(&ServiceId, u64)> = checks
        .iter()
        .map(|c| {
            let mut h = Fnv::new();
            c.hash(&mut h);
            (&c.id, h.finish())
        })
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut h = Fnv::new();
    for (id, hash) in pairs {
        id.as_str().hash(&mut h);
        h.write_u64(hash);
    }
    h.finish().max(1)
}

/// An upper bound of a check's encoded size in an `Assignment` message.
pub fn encoded_bound(c: &CheckSpec) -> usize {
    const PER_FIELD: usize = 12;
    let headers: usize = c
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 3 * PER_FIELD)
        .sum();
    let auth = c
        .basic_auth
        .as_ref()
        .map_or(0, |(u, p)| u.len() + p.len() + 3 * PER_FIELD);
    let body = c.body_contains.as_ref().map_or(0, String::len);
    c.id.as_str().len()
        + c.url.len()
        + c.method.len()
        + body
        + headers
        + auth
        + c.expected_status.len() * 4
        + 16 * PER_FIELD
}

/// What changed from `old` to `new`: the checks added or changed, and the
/// ids no longer in it.
pub fn diff(
    old: &[Arc<CheckSpec>],
    new: &[Arc<CheckSpec>],
) -> (Vec<Arc<CheckSpec>>, Vec<ServiceId>) {
    let before: HashMap<&ServiceId, &CheckSpec> = old.iter().map(|c| (&c.id, &**c)).collect();
    let after: HashMap<&ServiceId, &CheckSpec> = new.iter().map(|c| (&c.id, &**c)).collect();
    let changed = new
        .iter()
        .filter(|c| before.get(&c.id) != Some(&&***c))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|c| !after.contains_key(&c.id))
        .map(|c| c.id.clone())
        .collect();
    (changed, removed)
}

/// The parts of a full set.
pub fn full(generation: u64, checks: &[Arc<CheckSpec>], digest: u64) -> Vec<AssignmentPart> {
    cut(
        generation,
        AssignmentKind::Full,
        checks.to_vec(),
        Vec::new(),
        digest,
    )
}

/// The one part that tells the agent to keep the set it has (`ids`).
pub fn unchanged(generation: u64, checks: &[Arc<CheckSpec>], digest: u64) -> AssignmentPart {
    let ids = Arc::new(checks.iter().map(|c| c.id.clone()).collect());
    AssignmentPart {
        generation,
        kind: AssignmentKind::Unchanged { ids },
        checks: Vec::new(),
        removed: Vec::new(),
        last: true,
        digest,
    }
}

/// The parts of a delta from `generation - 1` to `generation`.
pub fn delta(
    generation: u64,
    changed: Vec<Arc<CheckSpec>>,
    removed: Vec<ServiceId>,
    digest: u64,
) -> Vec<AssignmentPart> {
    let kind = AssignmentKind::Delta {
        base: generation - 1,
    };
    cut(generation, kind, changed, removed, digest)
}

/// Cuts an update into parts: checks first, by count and bytes, then the
/// removed ids in the same byte budget; at least one part, the last marked.
fn cut(
    generation: u64,
    kind: AssignmentKind,
    checks: Vec<Arc<CheckSpec>>,
    removed: Vec<ServiceId>,
    digest: u64,
) -> Vec<AssignmentPart> {
    let part = |checks: Vec<Arc<CheckSpec>>, removed: Vec<ServiceId>| AssignmentPart {
        generation,
        kind: kind.clone(),
        checks,
        removed,
        last: false,
        digest,
    };
    let mut parts = Vec::new();
    let (mut current, mut bytes) = (Vec::new(), 0);
    for c in checks {
        let size = encoded_bound(&c);
        if !current.is_empty()
            && (current.len() == MAX_ASSIGNMENT_PART_CHECKS
                || bytes + size > MAX_ASSIGNMENT_PART_BYTES)
        {
            parts.push(part(std::mem::take(&mut current), Vec::new()));
            bytes = 0;
        }
        bytes += size;
        current.push(c);
    }
    let mut gone = Vec::new();
    for id in removed {
        let size = id.as_str().len() + 6;
        if !gone.is_empty() && bytes + size > MAX_ASSIGNMENT_PART_BYTES {
            parts.push(part(
                std::mem::take(&mut current),
                std::mem::take(&mut gone),
            ));
            bytes = 0;
        }
        bytes += size;
        gone.push(id);
    }
    parts.push(part(current, gone));
    if let Some(last) = parts.last_mut() {
        last.last = true;
    }
    parts
}

#[cfg(test)]
mod tests;
