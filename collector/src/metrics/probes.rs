//! [`ProbeTable`]: the latest probe of each (service, agent), in memory,
//! for blackbox_exporter's `probe_*` gauges.
//!
//! Ingest records what it just committed ([`ProbeTable::record`], right
//! after each commit); the table is seeded from the store's
//! `latest_results` at start. A result replaces the one held only if it
//! started no earlier, as in the store. A render ([`ProbeTable::write`])
//! formats one shard at a time under that shard's lock: ingest waits at
//! most for one shard (about 1/64 of the table), never for a render.
//!
//! Only the pairs the registry assigns now are written (a live agent
//! assigned to a configured service), labelled with the service's
//! equipment and the agent's name and region from the registry's
//! directory: a removed service or an agent no longer assigned (dead,
//! reassigned) has no series from the next render on. A removed service's
//! rows are dropped when a render meets them.

use std::collections::HashMap;

use super::exposition::{Family, Format, Kind, push_label};
use super::shards::Sharded;
use crate::agents::directory::Directory;
use crate::config::ProbeSeries;
use crate::domain::{AgentId, EquipmentId, ProbeOutcome, ServiceId};

/// One agent's latest probe of a service, as the gauges need it.
#[derive(Debug, Clone, PartialEq)]
struct Probe {
    agent: AgentId,
    time_ms: i64,
    ok: bool,
    duration_us: u64,
    /// 0 when no response arrived (as blackbox_exporter).
    status: u16,
    /// resolve, connect, tls, processing, transfer; 0 when not measured.
    phases_us: [u64; 5],
    cert_not_after_ms: Option<i64>,
}

/// blackbox_exporter's phase labels, in [`Probe::phases_us`] order, as
/// appended to a probe's labels (constant: nothing to escape).
const PHASE_LABELS: [&str; 5] = [
    ",phase=\"resolve\"",
    ",phase=\"connect\"",
    ",phase=\"tls\"",
    ",phase=\"processing\"",
    ",phase=\"transfer\"",
];

/// The latest probe of each (service, agent).
#[derive(Debug, Default)]
pub struct ProbeTable {
    rows: Sharded<Vec<Probe>>,
}

impl ProbeTable {
    /// Keeps `outcome` as `agent`'s latest probe of `service` unless a
    /// later one is held.
    pub fn record(&self, service: &ServiceId, agent: &AgentId, time_ms: i64, o: &ProbeOutcome) {
        let p = &o.phases;
        let probe = Probe {
            agent: agent.clone(),
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
            .map(|v| v.unwrap_or(0)),
            cert_not_after_ms: o.cert_not_after_ms,
        };
        let mut shard = self.rows.shard_of(service);
        let probes = match shard.get_mut(service) {
            Some(probes) => probes,
            None => shard.entry(service.clone()).or_default(),
        };
        match probes.iter_mut().find(|q| q.agent == *agent) {
            Some(held) if held.time_ms <= time_ms => *held = probe,
            Some(_) => {}
            None => probes.push(probe),
        }
    }

    /// Writes the `probe_*` families of the assigned pairs (see the
    /// module docs); drops the rows of services not in `equipment`.
    pub fn write(
        &self,
        format: Format,
        mode: ProbeSeries,
        equipment: &HashMap<ServiceId, EquipmentId>,
        directory: &Directory,
    ) -> Vec<String> {
        let mut f = Families::new(format);
        let mut labels = String::new();
        self.rows.each_shard(|shard| {
            shard.retain(|service, _| equipment.contains_key(service));
            for (service, probes) in shard.iter() {
                let (Some(eq), Some(agents)) =
                    (equipment.get(service), directory.by_service.get(service))
                else {
                    continue;
                };
                let assigned = probes.iter().filter(|p| agents.contains(&p.agent));
                labels.clear();
                push_label(&mut labels, "service", service.as_str());
                push_label(&mut labels, "equipment", eq.as_str());
                let base = labels.len();
                match mode {
                    ProbeSeries::Service => {
                        let newest = assigned.max_by_key(|p| p.time_ms);
                        if let Some(p) = newest {
                            f.write(&labels, p);
                        }
                    }
                    ProbeSeries::Agent => {
                        for p in assigned {
                            let Some(link) = directory.agents.get(&p.agent) else {
                                continue;
                            };
                            labels.truncate(base);
                            push_label(&mut labels, "agent", &link.name);
                            push_label(&mut labels, "region", &link.region);
                            f.write(&labels, p);
                        }
                    }
                }
            }
        });
        f.finish()
    }
}

/// The five `probe_*` families being written.
struct Families {
    success: Family,
    duration: Family,
    status: Family,
    phases: Family,
    cert: Family,
    phase_labels: String,
}

impl Families {
    fn new(format: Format) -> Families {
        let gauge = |name, help| Family::new(format, name, Kind::Gauge, help);
        Families {
            success: gauge(
                "probe_success",
                "Whether the latest probe succeeded (1) or failed (0)",
            ),
            duration: gauge(
                "probe_duration_seconds",
                "How long the latest probe took to complete, in seconds",
            ),
            status: gauge(
                "probe_http_status_code",
                "The latest probe's final HTTP status code (0 without a response)",
            ),
            phases: gauge(
                "probe_http_duration_seconds",
                "The latest probe's duration by phase (resolve, connect, tls, processing, transfer; 0 when not measured), in seconds",
            ),
            cert: gauge(
                "probe_ssl_earliest_cert_expiry",
                "The earliest expiry of the latest probe's certificate chain, in Unix seconds",
            ),
            phase_labels: String::new(),
        }
    }

    fn write(&mut self, labels: &str, p: &Probe) {
        self.success.sample_int(labels, i64::from(p.ok));
        self.duration.sample_micros(labels, p.duration_us);
        self.status.sample_int(labels, i64::from(p.status));
        for (phase, us) in PHASE_LABELS.iter().zip(p.phases_us) {
            self.phase_labels.clear();
            self.phase_labels.push_str(labels);
            self.phase_labels.push_str(phase);
            self.phases.sample_micros(&self.phase_labels, us);
        }
        if let Some(ms) = p.cert_not_after_ms {
            self.cert.sample_int(labels, ms.div_euclid(1000));
        }
    }

    fn finish(self) -> Vec<String> {
        [
            self.success,
            self.duration,
            self.status,
            self.phases,
            self.cert,
        ]
        .into_iter()
        .map(Family::finish)
        .collect()
    }
}

#[cfg(test)]
mod tests;
