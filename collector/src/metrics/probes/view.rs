//! [`View`]: what one render writes the probe table against (the catalog
//! and the registry's directory, each with its generation), with the
//! label text that does not change during a render written once: each
//! live agent's `,agent="…",region="…"` and each equipment id, escaped.

use super::{ProbeTable, Row};
use crate::domain::{AgentId, ServiceId};
use crate::metrics::Published;
use crate::metrics::board::Catalog;
use crate::metrics::exposition::{push_escaped, push_label};

pub struct View<'a> {
    catalog: &'a Catalog,
    published: &'a Published,
    agent_ids: Vec<AgentId>,
    /// Each interned agent's labels (with the leading comma), `None`
    /// when it is not live.
    pub(super) agents: Vec<Option<String>>,
    /// Each equipment id, escaped, by the catalog's index.
    pub(super) equipment: Vec<String>,
}

impl<'a> View<'a> {
    pub fn new(table: &ProbeTable, catalog: &'a Catalog, published: &'a Published) -> View<'a> {
        let agent_ids = table.agent_ids();
        let agents = agent_ids
            .iter()
            .map(|id| {
                published.directory.agents.get(id).map(|link| {
                    let mut labels = String::new();
                    push_label(&mut labels, "agent", &link.name);
                    push_label(&mut labels, "region", &link.region);
                    format!(",{labels}")
                })
            })
            .collect();
        let equipment = catalog
            .equipment
            .iter()
            .map(|e| {
                let mut text = String::new();
                push_escaped(&mut text, e.as_str());
                text
            })
            .collect();
        View {
            catalog,
            published,
            agent_ids,
            agents,
            equipment,
        }
    }

    /// The generations of the catalog and the directory.
    fn stamp(&self) -> (u64, u64) {
        (self.catalog.generation, self.published.generation)
    }

    /// Makes `row`'s `assigned` flags and equipment hold for this view
    /// (a no-op when it was resolved against the same generations); false
    /// when the service is no longer configured (drop the row).
    pub(super) fn resolve(&self, service: &ServiceId, row: &mut Row) -> bool {
        if row.stamp == Some(self.stamp()) {
            return true;
        }
        let Some(&equipment) = self.catalog.of.get(service) else {
            return false;
        };
        let assigned = self.published.directory.by_service.get(service);
        let mut complete = true;
        for p in row.iter_mut() {
            let id = self.agent_ids.get(p.agent as usize);
            // An agent interned after this view was taken: resolve the
            // row again next time.
            complete &= id.is_some();
            p.assigned = id.is_some_and(|id| assigned.is_some_and(|a| a.contains(id)));
        }
        row.equipment = equipment;
        row.stamp = complete.then(|| self.stamp());
        true
    }
}
