//! How the [`super::ScriptedAgent`] puts assignment parts together, as the
//! real agent does (`agent/src/link/assembly.rs`), but keeping only ids and
//! what each update looked like on the wire ([`Update`]), so scenarios can
//! tell a full set from a delta, count parts and check their sizes.
//!
//! **Boundary**: a client of the wire protocol, so it names the generated
//! types; scenarios see [`Update`] only.

use std::collections::BTreeSet;

use picket_proto::agent::v1 as pb;
use picket_proto::prost::Message as _;

/// One assignment update as the scripted agent received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// `"full"`, `"delta"` or `"unchanged"`.
    pub kind: &'static str,
    pub generation: u64,
    /// Messages it came in.
    pub parts: usize,
    /// The largest of them, encoded, in bytes.
    pub largest_part: usize,
    /// All of them, encoded, in bytes.
    pub bytes: usize,
    /// The checks it carried (members of a full set; added or changed).
    pub checks: Vec<String>,
    pub removed: Vec<String>,
    /// The digest the collector gave the set after it.
    pub digest: u64,
    /// The number of checks in the set after it.
    pub size: usize,
}

/// The set assembled so far and the update being received.
#[derive(Debug, Default)]
pub(super) struct Assembly {
    set: BTreeSet<String>,
    generation: Option<u64>,
    pending: Option<Update>,
}

fn kind(k: i32) -> Result<&'static str, String> {
    match pb::AssignmentKind::try_from(k) {
        Ok(pb::AssignmentKind::Full) => Ok("full"),
        Ok(pb::AssignmentKind::Delta) => Ok("delta"),
        Ok(pb::AssignmentKind::Unchanged) => Ok("unchanged"),
        _ => Err(format!("unknown assignment kind {k}")),
    }
}

impl Assembly {
    /// Takes one part; the update and the set's ids when it completes one.
    pub(super) fn take(
        &mut self,
        a: pb::Assignment,
    ) -> Result<Option<(Update, Vec<String>)>, String> {
        let bytes = a.encoded_len();
        let kind = kind(a.kind)?;
        let mut update = match self.pending.take() {
            Some(u) if u.generation == a.generation && u.kind == kind => u,
            Some(u) => {
                return Err(format!(
                    "update {} interleaved with {}",
                    a.generation, u.generation
                ));
            }
            None => {
                if kind == "delta" && self.generation != Some(a.base_generation) {
                    return Err(format!(
                        "delta {} on {} but the set is {:?}",
                        a.generation, a.base_generation, self.generation
                    ));
                }
                Update {
                    kind,
                    generation: a.generation,
                    parts: 0,
                    largest_part: 0,
                    bytes: 0,
                    checks: Vec::new(),
                    removed: Vec::new(),
                    digest: 0,
                    size: 0,
                }
            }
        };
        update.parts += 1;
        update.largest_part = update.largest_part.max(bytes);
        update.bytes += bytes;
        update.checks.extend(a.checks.into_iter().map(|c| c.id));
        update.removed.extend(a.removed);
        if !a.last {
            self.pending = Some(update);
            return Ok(None);
        }
        update.digest = a.digest;
        self.generation = Some(update.generation);
        match kind {
            "full" => self.set = update.checks.iter().cloned().collect(),
            "delta" => {
                for id in &update.removed {
                    self.set.remove(id);
                }
                self.set.extend(update.checks.iter().cloned());
            }
            _ => {}
        }
        update.size = self.set.len();
        Ok(Some((update, self.set.iter().cloned().collect())))
    }
}
