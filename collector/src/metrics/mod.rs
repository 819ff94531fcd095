//! The collector's metrics, rendered at `/metrics`: created at start and
//! handed (in an `Arc`) to the actors that count something.
//!
//! - [`exposition`]: the Prometheus text format 0.0.4 and OpenMetrics 1.0.
//! - [`primitives`]: atomic counters, gauges, labelled families, histogram.
//! - [`probes`]: blackbox_exporter's `probe_*` gauges of the latest probe
//!   of each (service, agent), in memory, fed by ingest.
//! - [`board`]: each service's state (fed by the lifecycle) and equipment.
//! - [`scrape`]: what a scrape reads from the store (open requests,
//!   pending deliveries, agents, database size) and the render itself.
//! - [`chunks`] and [`stream`]: the render cut into chunks and streamed
//!   through a bounded channel, so a scrape holds a few chunks at most.
//!
//! Names follow Prometheus conventions: `picket_<subsystem>_…`, `_total` on
//! counters, base units, no unbounded labels (service and agent ids come
//! from the configuration and enrollment, not from URLs).

pub mod board;
pub mod chunks;
pub mod exposition;
mod others;
pub mod primitives;
pub mod probes;
pub mod scrape;
mod shards;
mod start;
pub mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::agents::deadman::DeadSet;
use crate::agents::directory::Directory;
use crate::config::ProbeSeries;
use crate::domain::{AgentId, ServiceId};
use board::ServiceBoard;
use primitives::{Counter, Gauge, Histogram, Labeled};
use probes::ProbeTable;

/// Upper bounds of `picket_ingest_batch_seconds`: from one small commit
/// (about a millisecond) to a full batch of 5000 on a slow disk.
const BATCH_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How a recheck round ended: `confirmed` (the quorum failed), `local`
/// (some agents failed, not the quorum), `recovered` (every voter
/// succeeded).
pub const ROUND_OUTCOMES: [&str; 3] = ["confirmed", "local", "recovered"];

/// The live agents and the dead set, as the registry last published them.
#[derive(Debug, Default)]
pub struct Published {
    pub directory: Arc<Directory>,
    pub dead: DeadSet,
    /// Distinct per publication ([`generation`]); 0 for the empty one.
    pub generation: u64,
}

/// A number never handed out before (from 1): the generation of a
/// catalog or a directory, which the probe table's rows remember.
fn generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Every metric the collector exports.
pub struct Metrics {
    /// Results committed by ingest.
    pub results_ingested: Counter,
    /// How long ingest's write transactions take.
    pub ingest_batch: Histogram,
    /// Recheck rounds concluded, by outcome ([`ROUND_OUTCOMES`]).
    pub recheck_rounds: Labeled,
    /// Recheck rounds in which some agents failed but not the quorum.
    pub local_failures: Labeled,
    /// Requests opened, by kind (`corrective`, `agent`).
    pub requests_opened: Labeled,
    /// Agents declared dead by the dead-man's switch.
    pub agents_down: Counter,
    /// Connected, live agents.
    pub agents_live: Gauge,
    /// Agent-link messages and results refused or dropped, by `reason`
    /// (`link::guard::Reason`).
    pub link_rejected: Labeled,
    /// Webhook attempts by receiver and outcome (`delivered`, `failed`,
    /// `given_up`, `gone`).
    pub webhook_deliveries: Labeled,
    /// 1 while a receiver is disabled (it answered 410 Gone), else 0.
    pub webhooks_disabled: Labeled,
    /// Failed authentications, by `kind` (`enrollment_token`, `credential`,
    /// `bearer`).
    pub auth_failures: Labeled,
    /// Calls refused unread because their source failed too often.
    pub auth_rate_limited: Counter,
    /// 1 when the last configuration reload (or the start) succeeded, 0
    /// after a refused one.
    pub config_reload_successful: Gauge,
    /// When the configuration was last loaded successfully (epoch seconds).
    pub config_reload_success_time: Gauge,
    /// Agent streams accepted (a hello welcomed) since the start.
    pub agent_connections: Counter,
    /// Rows deleted by the pruner, by `table` (`results`, `rollups`,
    /// `events`, `webhook_outbox`).
    pub retention_deleted_rows: Labeled,
    /// When the last complete pruning pass ended, in Unix seconds.
    pub retention_last_run: Gauge,
    /// 1 while this collector leads, 0 while it stands by (`leader`).
    pub leader: Gauge,
    /// Times this collector took or lost the leadership.
    pub leader_changes: Counter,
    /// `request.reminder` reminders sent (each cadence's one).
    pub request_reminders: Counter,
    /// The latest probe of each (service, agent).
    pub probes: ProbeTable,
    /// Each service's state and equipment.
    pub board: ServiceBoard,
    /// The registry's last directory and dead set.
    published: ArcSwap<Published>,
    /// `[metrics] probe_series = "service"`.
    per_service: AtomicBool,
    /// Heartbeats by `state` (`new`, `active`, `suspended`).
    pub heartbeats: Labeled,
    /// Pings by `result` (`ok`, `unknown`, `rejected`).
    pub heartbeat_pings: Labeled,
}

impl Metrics {
    pub fn new() -> Metrics {
        let recheck_rounds = Labeled::new(&["outcome"]);
        for outcome in ROUND_OUTCOMES {
            recheck_rounds.add(&[outcome], 0);
        }
        Metrics {
            results_ingested: Counter::default(),
            ingest_batch: Histogram::new(&BATCH_BOUNDS),
            recheck_rounds,
            local_failures: Labeled::new(&["service", "agent"]),
            requests_opened: Labeled::new(&["kind"]),
            agents_down: Counter::default(),
            agents_live: Gauge::default(),
            link_rejected: Labeled::new(&["reason"]),
            webhook_deliveries: Labeled::new(&["webhook", "outcome"]),
            webhooks_disabled: Labeled::new(&["webhook"]),
            auth_failures: Labeled::new(&["kind"]),
            auth_rate_limited: Counter::default(),
            config_reload_successful: Gauge::default(),
            config_reload_success_time: Gauge::default(),
            agent_connections: Counter::default(),
            retention_deleted_rows: Labeled::new(&["table"]),
            retention_last_run: Gauge::default(),
            leader: Gauge::default(),
            leader_changes: Counter::default(),
            request_reminders: Counter::default(),
            probes: ProbeTable::default(),
            board: ServiceBoard::default(),
            published: ArcSwap::default(),
            per_service: AtomicBool::new(false),
            heartbeats: Labeled::new(&["state"]),
            heartbeat_pings: Labeled::new(&["result"]),
        }
    }

    /// Counts a local failure of `agent` on `service`.
    pub fn local_failure(&self, service: &ServiceId, agent: &AgentId) {
        self.local_failures.inc(&[service.as_str(), agent.as_str()]);
    }

    /// Counts a request opened of `kind`.
    pub fn request_opened(&self, kind: &str) {
        self.requests_opened.inc(&[kind]);
    }

    /// Counts something an agent sent that was refused or dropped.
    pub fn link_rejected(&self, reason: &'static str) {
        self.link_rejected.inc(&[reason]);
    }

    /// Counts one attempt to deliver to `webhook` with `outcome`.
    pub fn webhook_delivery(&self, webhook: &str, outcome: &'static str) {
        self.webhook_deliveries.inc(&[webhook, outcome]);
    }

    /// Sets whether `webhook` is disabled.
    pub fn webhook_disabled(&self, webhook: &str, disabled: bool) {
        self.webhooks_disabled.set(&[webhook], i64::from(disabled));
    }

    /// Counts a failed authentication of `kind`.
    pub fn auth_failure(&self, kind: &str) {
        self.auth_failures.inc(&[kind]);
    }

    /// Counts `rows` deleted from `table` by the pruner.
    pub fn retention_deleted(&self, table: &'static str, rows: u64) {
        self.retention_deleted_rows
            .add(&[table], i64::try_from(rows).unwrap_or(i64::MAX));
    }

    /// Counts a concluded recheck round (`outcome` from [`ROUND_OUTCOMES`]).
    pub fn recheck_round(&self, outcome: &'static str) {
        self.recheck_rounds.inc(&[outcome]);
    }

    /// The registry published a new directory: the live agents and the
    /// assignment the `probe_*` series follow, and `picket_agents_live`.
    pub fn published(&self, directory: &Arc<Directory>, dead: &DeadSet) {
        let live = directory
            .agents
            .keys()
            .filter(|a| !dead.contains(*a))
            .count();
        self.agents_live.set(live as i64);
        self.published.store(Arc::new(Published {
            directory: directory.clone(),
            dead: dead.clone(),
            generation: generation(),
        }));
    }

    /// What the registry last published.
    pub fn directory(&self) -> Arc<Published> {
        self.published.load_full()
    }

    /// Follows `[metrics] probe_series` (start and reload).
    pub fn set_probe_series(&self, series: ProbeSeries) {
        self.per_service
            .store(series == ProbeSeries::Service, Ordering::Relaxed);
    }

    pub fn probe_series(&self) -> ProbeSeries {
        if self.per_service.load(Ordering::Relaxed) {
            ProbeSeries::Service
        } else {
            ProbeSeries::Agent
        }
    }

    /// The text exposition of what is in memory (no store reads): tests.
    pub fn render(&self) -> String {
        self.render_with(exposition::Format::Text, &scrape::Scraped::default())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
