//! The collector's families that predate the blackbox and verdict ones
//! (link, agents, auth, webhooks disabled, reloads, retention), with their
//! names and help texts.

use super::Metrics;
use super::exposition::{Exposition, Kind};

impl Metrics {
    /// Writes the families counted by the link, the registry, the
    /// lifecycle, the notifier, the limiter, reloads and the pruner.
    pub(super) fn write_others(&self, e: &mut Exposition) {
        use Kind::{Counter, Gauge};
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        e.family(
            "picket_service_local_failures_total",
            Counter,
            "Recheck rounds where these agents failed but the quorum did not",
            |f| self.local_failures.write(f),
        );
        e.family(
            "picket_requests_opened_total",
            Counter,
            "Maintenance requests opened",
            |f| self.requests_opened.write(f),
        );
        e.family(
            "picket_agents_down_total",
            Counter,
            "Agents declared dead by the dead-man's switch",
            |f| f.sample_int("", int(self.agents_down.get())),
        );
        e.family(
            "picket_agents_live",
            Gauge,
            "Connected agents within their heartbeat deadline",
            |f| f.sample_int("", self.agents_live.get()),
        );
        e.family(
            "picket_heartbeats",
            Gauge,
            "Push check-in heartbeats, by state",
            |f| self.heartbeats.write(f),
        );
        e.family(
            "picket_heartbeat_pings_total",
            Counter,
            "Pings on /ping/{token}, by result (ok, unknown token, rejected)",
            |f| self.heartbeat_pings.write(f),
        );
        e.family(
            "picket_link_rejected_total",
            Counter,
            "Agent-link messages and results refused or dropped, by reason",
            |f| self.link_rejected.write(f),
        );
        e.family(
            "picket_webhook_disabled",
            Gauge,
            "1 while a webhook receiver is disabled after a 410 Gone",
            |f| self.webhooks_disabled.write(f),
        );
        e.family(
            "picket_auth_failures_total",
            Counter,
            "Failed authentications (wrong token or credential), by kind",
            |f| self.auth_failures.write(f),
        );
        e.family(
            "picket_auth_rate_limited_total",
            Counter,
            "Calls refused with RESOURCE_EXHAUSTED after too many failed authentications",
            |f| f.sample_int("", int(self.auth_rate_limited.get())),
        );
        e.family(
            "picket_config_last_reload_successful",
            Gauge,
            "Whether the last configuration reload succeeded (1) or was refused (0)",
            |f| f.sample_int("", self.config_reload_successful.get()),
        );
        e.family(
            "picket_config_last_reload_success_timestamp_seconds",
            Gauge,
            "When the configuration was last loaded or reloaded successfully",
            |f| f.sample_int("", self.config_reload_success_time.get()),
        );
        e.family(
            "picket_agent_connections_total",
            Counter,
            "Agent streams accepted (welcomed) since the collector started",
            |f| f.sample_int("", int(self.agent_connections.get())),
        );
        e.family(
            "picket_retention_deleted_rows_total",
            Counter,
            "Rows deleted by retention pruning, by table",
            |f| self.retention_deleted_rows.write(f),
        );
        e.family(
            "picket_retention_last_run_timestamp_seconds",
            Gauge,
            "When the last complete retention pass ended, in Unix seconds",
            |f| f.sample_int("", self.retention_last_run.get()),
        );
        e.family(
            "picket_leader",
            Gauge,
            "1 while this collector leads, 0 while it stands by",
            |f| f.sample_int("", self.leader.get()),
        );
        e.family(
            "picket_leader_changes_total",
            Counter,
            "Times this collector took or lost the leadership",
            |f| f.sample_int("", int(self.leader_changes.get())),
        );
        e.family(
            "picket_request_reminders_total",
            Counter,
            "Reminders of open, unacknowledged requests sent (request.reminder)",
            |f| f.sample_int("", int(self.request_reminders.get())),
        );
    }
}
