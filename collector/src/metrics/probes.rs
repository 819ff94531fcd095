//! [`ProbeTable`]: the latest probe of each (service, agent), in memory,
//! for blackbox_exporter's `probe_*` gauges.
//!
//! Ingest records what it just committed ([`ProbeTable::record`], right
//! after each commit); the table is seeded from the store's
//! `latest_results` at start. A result replaces the one held only if it
//! started no earlier, as in the store. Agent ids are interned (a probe
//! holds an index), so a render compares no strings.
//!
//! Only the pairs the registry assigns now are written (a live agent
//! assigned to a configured service), labelled with the service's
//! equipment and the agent's name and region from the registry's
//! directory: a removed service or an agent no longer assigned (dead,
//! reassigned) has no series from the next render on. Which probes of a
//! row are assigned, and its equipment, are resolved once per catalog and
//! directory (a row remembers the generations it was resolved against, see
//! [`View`]), not once per family and scrape. A removed service's rows are
//! dropped when a render meets them. The writing is in [`write`].

mod row;
mod view;
mod write;

use std::collections::HashMap;
use std::sync::RwLock;

use super::shards::Sharded;
use crate::domain::{AgentId, ProbeOutcome, ServiceId};
use row::Row;
pub use view::View;

/// One agent's latest probe of a service, as the gauges need it (64
/// bytes: phases fit in `u32` microseconds, over an hour).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Probe {
    /// The agent's index in [`Agents::ids`].
    agent: u32,
    /// Whether the row's resolved directory assigns the agent.
    assigned: bool,
    time_ms: i64,
    ok: bool,
    duration_us: u64,
    /// 0 when no response arrived (as blackbox_exporter).
    status: u16,
    /// resolve, connect, tls, processing, transfer; 0 when not measured.
    phases_us: [u32; 5],
    cert_not_after_ms: Option<i64>,
}

/// Every agent id ever recorded, each with its index (a few per
/// collector: they are never dropped).
#[derive(Debug, Default)]
struct Agents {
    ids: Vec<AgentId>,
    index: HashMap<AgentId, u32>,
}

/// The latest probe of each (service, agent).
#[derive(Debug, Default)]
pub struct ProbeTable {
    rows: Sharded<Row>,
    agents: RwLock<Agents>,
}

impl ProbeTable {
    /// `agent`'s index, interned on first sight.
    fn agent_index(&self, agent: &AgentId) -> u32 {
        let known = self.agents.read().unwrap_or_else(|e| e.into_inner());
        if let Some(&i) = known.index.get(agent) {
            return i;
        }
        drop(known);
        let mut agents = self.agents.write().unwrap_or_else(|e| e.into_inner());
        let next = u32::try_from(agents.ids.len()).unwrap_or(u32::MAX);
        let i = *agents.index.entry(agent.clone()).or_insert(next);
        if i == next {
            agents.ids.push(agent.clone());
        }
        i
    }

    /// The agent ids by index, as now.
    fn agent_ids(&self) -> Vec<AgentId> {
        let agents = self.agents.read().unwrap_or_else(|e| e.into_inner());
        agents.ids.clone()
    }

    /// Keeps `outcome` as `agent`'s latest probe of `service` unless a
    /// later one is held.
    pub fn record(&self, service: &ServiceId, agent: &AgentId, time_ms: i64, o: &ProbeOutcome) {
        let p = &o.phases;
        let probe = Probe {
            agent: self.agent_index(agent),
            assigned: false,
            time_ms,
            ok: o.ok,
            duration_us: o.duration_us,
            status: o.status_code.unwrap_or(0),
            phases_us: [
                p.dns_us,
                p.connect_us,
                p.tls_us,
                p.processing_us,
                p.transfer_us,
            ]
            .map(|v| u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX)),
            cert_not_after_ms: o.cert_not_after_ms,
        };
        let mut shard = self.rows.shard_of(service);
        let row = match shard.get_mut(service) {
            Some(row) => row,
            None => shard.entry(service.clone()).or_default(),
        };
        if let Some(held) = row.iter_mut().find(|q| q.agent == probe.agent) {
            if held.time_ms <= time_ms {
                *held = Probe {
                    assigned: held.assigned,
                    ..probe
                };
            }
            return;
        }
        row.push(probe);
    }
}

#[cfg(test)]
mod tests;
