//! [`Row`]: one service's latest probes, held inline (up to
//! [`INLINE`], the usual number of agents per service) so that a render,
//! which walks the whole table once per family, reads each row where the
//! map keeps it instead of following a pointer to the heap for every
//! service: that pointer chase was most of a pass.

use super::Probe;

/// Probes held in the row itself; more spill to a `Vec`.
const INLINE: usize = 3;

/// A service's latest probes and what a render resolved about them.
#[derive(Debug, Default)]
pub(super) struct Row {
    len: u8,
    inline: [Probe; INLINE],
    more: Vec<Probe>,
    /// The [`super::View`] stamp `assigned` and `equipment` hold for;
    /// `None` until resolved, and again when a probe of a new agent
    /// arrives.
    pub stamp: Option<(u64, u64)>,
    /// The service's equipment, an index in the catalog's list.
    pub equipment: u32,
}

impl Row {
    pub fn iter(&self) -> impl Iterator<Item = &Probe> {
        self.inline[..usize::from(self.len)]
            .iter()
            .chain(self.more.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Probe> {
        self.inline[..usize::from(self.len)]
            .iter_mut()
            .chain(self.more.iter_mut())
    }

    /// Adds the probe of an agent the row did not have (and marks the row
    /// unresolved).
    pub fn push(&mut self, probe: Probe) {
        match self.inline.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = probe;
                self.len += 1;
            }
            None => self.more.push(probe),
        }
        self.stamp = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_probes_past_the_inline_ones_in_order() {
        let mut row = Row::default();
        for agent in 0..5 {
            row.push(Probe {
                agent,
                ..Probe::default()
            });
        }
        let agents: Vec<u32> = row.iter().map(|p| p.agent).collect();
        assert_eq!(agents, [0, 1, 2, 3, 4]);
        assert_eq!(row.more.len(), 2);
        row.iter_mut().for_each(|p| p.assigned = true);
        assert!(row.iter().all(|p| p.assigned));
    }
}
