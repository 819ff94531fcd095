//! The collector's Prometheus metrics: one registry, created at start and
//! handed (in an `Arc`) to the actors that count something. Rendered in the
//! text format at `/metrics`.
//!
//! Names follow Prometheus conventions: `picket_<subsystem>_…`, `_total` on
//! counters, no unbounded labels (service and agent ids come from the
//! configuration and enrollment, not from URLs).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};

use crate::domain::{AgentId, ServiceId};

type Labels = Vec<(&'static str, String)>;

/// Every metric the collector exports.
pub struct Metrics {
    registry: Registry,
    /// Results committed by ingest.
    pub results_ingested: Counter,
    /// Recheck rounds in which some agents failed but not the quorum.
    pub local_failures: Family<Labels, Counter>,
    /// Requests opened, by kind (`corrective`, `agent`).
    pub requests_opened: Family<Labels, Counter>,
    /// Agents declared dead by the dead-man's switch.
    pub agents_down: Counter,
    /// Connected, live agents.
    pub agents_live: Gauge,
    /// Agent-link messages and results refused or dropped, by `reason`
    /// (`link::guard::Reason`).
    pub link_rejected: Family<Labels, Counter>,
    /// Webhook attempts by receiver and outcome (`delivered`, `failed`,
    /// `given_up`, `gone`).
    pub webhook_deliveries: Family<Labels, Counter>,
    /// 1 while a receiver is disabled (it answered 410 Gone), else 0.
    pub webhooks_disabled: Family<Labels, Gauge>,
    /// Failed authentications, by `kind` (`enrollment_token`, `credential`,
    /// `bearer`).
    pub auth_failures: Family<Labels, Counter>,
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
    pub retention_deleted_rows: Family<Labels, Counter>,
    /// When the last complete pruning pass ended, in Unix seconds.
    pub retention_last_run: Gauge,
}

/// Registers `metric` under `name` and hands it back for the struct.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("picket");
        let results_ingested = registered(
            &mut registry,
            "collector_ingest_results",
            "Results committed to the store",
            Counter::default(),
        );
        let local_failures = registered(
            &mut registry,
            "service_local_failures",
            "Recheck rounds where these agents failed but the quorum did not",
            Family::<Labels, Counter>::default(),
        );
        let requests_opened = registered(
            &mut registry,
            "requests_opened",
            "Maintenance requests opened",
            Family::<Labels, Counter>::default(),
        );
        let agents_down = registered(
            &mut registry,
            "agents_down",
            "Agents declared dead by the dead-man's switch",
            Counter::default(),
        );
        let agents_live = registered(
            &mut registry,
            "agents_live",
            "Connected agents within their heartbeat deadline",
            Gauge::default(),
        );
        let link_rejected = registered(
            &mut registry,
            "link_rejected",
            "Agent-link messages and results refused or dropped, by reason",
            Family::<Labels, Counter>::default(),
        );
        let webhook_deliveries = registered(
            &mut registry,
            "webhook_deliveries",
            "Webhook delivery attempts by outcome",
            Family::<Labels, Counter>::default(),
        );
        let webhooks_disabled = registered(
            &mut registry,
            "webhook_disabled",
            "1 while a webhook receiver is disabled after a 410 Gone",
            Family::<Labels, Gauge>::default(),
        );
        let auth_failures = registered(
            &mut registry,
            "auth_failures",
            "Failed authentications (wrong token or credential), by kind",
            Family::<Labels, Counter>::default(),
        );
        let auth_rate_limited = registered(
            &mut registry,
            "auth_rate_limited",
            "Calls refused with RESOURCE_EXHAUSTED after too many failed authentications",
            Counter::default(),
        );
        let config_reload_successful = registered(
            &mut registry,
            "config_last_reload_successful",
            "Whether the last configuration reload succeeded (1) or was refused (0)",
            Gauge::default(),
        );
        let config_reload_success_time = registered(
            &mut registry,
            "config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded or reloaded successfully",
            Gauge::default(),
        );
        let agent_connections = registered(
            &mut registry,
            "agent_connections",
            "Agent streams accepted (welcomed) since the collector started",
            Counter::default(),
        );
        let retention_deleted_rows = registered(
            &mut registry,
            "retention_deleted_rows",
            "Rows deleted by retention pruning, by table",
            Family::<Labels, Counter>::default(),
        );
        let retention_last_run = registered(
            &mut registry,
            "retention_last_run_timestamp_seconds",
            "When the last complete retention pass ended, in Unix seconds",
            Gauge::default(),
        );
        Metrics {
            registry,
            config_reload_successful,
            config_reload_success_time,
            agent_connections,
            webhook_deliveries,
            webhooks_disabled,
            results_ingested,
            local_failures,
            requests_opened,
            agents_down,
            agents_live,
            link_rejected,
            auth_failures,
            auth_rate_limited,
            retention_deleted_rows,
            retention_last_run,
        }
    }

    /// Counts a local failure of `agent` on `service`.
    pub fn local_failure(&self, service: &ServiceId, agent: &AgentId) {
        self.local_failures
            .get_or_create(&vec![
                ("service", service.to_string()),
                ("agent", agent.to_string()),
            ])
            .inc();
    }

    /// Counts a request opened of `kind`.
    pub fn request_opened(&self, kind: &str) {
        self.requests_opened
            .get_or_create(&vec![("kind", kind.to_owned())])
            .inc();
    }

    /// Counts something an agent sent that was refused or dropped.
    pub fn link_rejected(&self, reason: &'static str) {
        self.link_rejected
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    /// Counts one attempt to deliver to `webhook` with `outcome`.
    pub fn webhook_delivery(&self, webhook: &str, outcome: &'static str) {
        self.webhook_deliveries
            .get_or_create(&vec![
                ("webhook", webhook.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Sets whether `webhook` is disabled.
    pub fn webhook_disabled(&self, webhook: &str, disabled: bool) {
        self.webhooks_disabled
            .get_or_create(&vec![("webhook", webhook.to_owned())])
            .set(i64::from(disabled));
    }

    /// Counts a failed authentication of `kind`.
    pub fn auth_failure(&self, kind: &str) {
        self.auth_failures
            .get_or_create(&vec![("kind", kind.to_owned())])
            .inc();
    }

    /// Counts `rows` deleted from `table` by the pruner.
    pub fn retention_deleted(&self, table: &'static str, rows: u64) {
        self.retention_deleted_rows
            .get_or_create(&vec![("table", table.to_owned())])
            .inc_by(rows);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{AgentId, ServiceId};

    #[test]
    fn renders_counters_with_labels() {
        let m = super::Metrics::new();
        let (shop, a1) = (ServiceId::from("shop"), AgentId::from("a1"));
        m.local_failure(&shop, &a1);
        m.local_failure(&shop, &a1);
        m.results_ingested.inc_by(3);
        m.link_rejected("seq_jump");
        let text = m.render();
        assert!(
            text.contains(r#"picket_service_local_failures_total{service="shop",agent="a1"} 2"#),
            "{text}"
        );
        assert!(
            text.contains("picket_collector_ingest_results_total 3"),
            "{text}"
        );
        assert!(
            text.contains(r#"picket_link_rejected_total{reason="seq_jump"} 1"#),
            "{text}"
        );
    }
}
