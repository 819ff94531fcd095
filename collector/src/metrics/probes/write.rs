//! Writing the five `probe_*` families: one pass over the table per
//! family (Prometheus wants a family's samples together, under one
//! header), each pass locking one shard at a time and sending the full
//! chunks once the shard is released, so a slow scraper never holds a
//! writer back. A line is written straight into the chunk: the service
//! label escaped in place, the equipment and agent labels copied from the
//! [`View`].

use super::{Probe, ProbeTable, View};
use crate::config::ProbeSeries;
use crate::metrics::chunks::{Chunks, Stopped};
use crate::metrics::exposition::{Format, Kind, push_escaped, push_header, push_int, push_micros};

/// The `probe_*` families, in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gauge {
    Success,
    Duration,
    Status,
    Phases,
    Cert,
}

const GAUGES: [(Gauge, &str, &str); 5] = [
    (
        Gauge::Success,
        "probe_success",
        "Whether the latest probe succeeded (1) or failed (0)",
    ),
    (
        Gauge::Duration,
        "probe_duration_seconds",
        "How long the latest probe took to complete, in seconds",
    ),
    (
        Gauge::Status,
        "probe_http_status_code",
        "The latest probe's final HTTP status code (0 without a response)",
    ),
    (
        Gauge::Phases,
        "probe_http_duration_seconds",
        "The latest probe's duration by phase (resolve, connect, tls, processing, transfer; 0 when not measured), in seconds",
    ),
    (
        Gauge::Cert,
        "probe_ssl_earliest_cert_expiry",
        "The earliest expiry of the latest probe's certificate chain, in Unix seconds",
    ),
];

/// blackbox_exporter's phase labels, in [`Probe::phases_us`] order, as
/// appended to a probe's labels (constant: nothing to escape).
const PHASE_LABELS: [&str; 5] = [
    ",phase=\"resolve\"} ",
    ",phase=\"connect\"} ",
    ",phase=\"tls\"} ",
    ",phase=\"processing\"} ",
    ",phase=\"transfer\"} ",
];

/// One series' name and labels up to (not including) the closing brace.
struct Head<'l> {
    name: &'static str,
    /// The row's `service="…",equipment="…"`, escaped.
    service: &'l str,
    /// `,agent="…",region="…"`, or empty.
    agent: &'l str,
}

impl Head<'_> {
    fn push(&self, out: &mut String) {
        out.push_str(self.name);
        out.push('{');
        out.push_str(self.service);
        out.push_str(self.agent);
    }

    /// The lines of `gauge` for `p`.
    fn write(&self, out: &mut String, gauge: Gauge, p: &Probe) {
        let int = |out: &mut String, v: i64| {
            self.push(out);
            out.push_str("} ");
            push_int(out, v);
            out.push('\n');
        };
        match gauge {
            Gauge::Success => int(out, i64::from(p.ok)),
            Gauge::Status => int(out, i64::from(p.status)),
            Gauge::Cert => {
                if let Some(ms) = p.cert_not_after_ms {
                    int(out, ms.div_euclid(1000));
                }
            }
            Gauge::Duration => {
                self.push(out);
                out.push_str("} ");
                push_micros(out, p.duration_us);
                out.push('\n');
            }
            Gauge::Phases => {
                for (phase, us) in PHASE_LABELS.iter().zip(p.phases_us) {
                    self.push(out);
                    out.push_str(phase);
                    push_micros(out, u64::from(us));
                    out.push('\n');
                }
            }
        }
    }
}

impl ProbeTable {
    /// Writes the `probe_*` families of the assigned pairs (see the
    /// module docs) into `out`; drops the rows of services no longer
    /// configured.
    pub fn write(
        &self,
        format: Format,
        mode: ProbeSeries,
        view: &View<'_>,
        out: &mut Chunks<'_>,
    ) -> Result<(), Stopped> {
        let mut labels = String::new();
        for (gauge, name, help) in GAUGES {
            push_header(&mut out.buf, format, name, Kind::Gauge, help);
            for mut shard in self.rows.locked() {
                shard.retain(|service, row| {
                    if !view.resolve(service, row) {
                        return false;
                    }
                    let Some(equipment) = view.equipment.get(row.equipment as usize) else {
                        return true;
                    };
                    labels.clear();
                    labels.push_str("service=\"");
                    push_escaped(&mut labels, service.as_str());
                    labels.push_str("\",equipment=\"");
                    labels.push_str(equipment);
                    labels.push('"');
                    let mut head = Head {
                        name,
                        service: &labels,
                        agent: "",
                    };
                    let assigned = row.iter().filter(|p| p.assigned);
                    match mode {
                        ProbeSeries::Service => {
                            if let Some(p) = assigned.max_by_key(|p| p.time_ms) {
                                head.write(&mut out.buf, gauge, p);
                            }
                        }
                        ProbeSeries::Agent => {
                            for p in assigned {
                                if let Some(Some(agent)) = view.agents.get(p.agent as usize) {
                                    head.agent = agent;
                                    head.write(&mut out.buf, gauge, p);
                                }
                            }
                        }
                    }
                    true
                });
                drop(shard);
                out.flush_full()?;
            }
        }
        Ok(())
    }
}
