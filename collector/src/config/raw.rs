//! The configuration file exactly as written: every table denies unknown
//! keys, and values that validation may reject keep their span for the
//! error's line number.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::redact::debug_redacted;

pub type Sp<T> = toml::Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Files of more `[[equipment]]` and `[[services]]` (config/include.rs).
    pub include: Option<Vec<Sp<String>>>,
    pub collector: RawCollector,
    #[serde(default)]
    pub agents: RawAgents,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub maintenance: RawMaintenance,
    #[serde(default)]
    pub equipment: Vec<RawEquipment>,
    #[serde(default)]
    pub services: Vec<RawService>,
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
    #[serde(default)]
    pub retention: RawRetention,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub heartbeats: Vec<RawHeartbeat>,
}

/// A file named by `include`: what is monitored, nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncluded {
    #[serde(default)]
    pub equipment: Vec<RawEquipment>,
    #[serde(default)]
    pub services: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCollector {
    pub grpc_listen: Option<Sp<String>>,
    pub http_listen: Option<Sp<String>>,
    pub database: Sp<String>,
    pub public_url: Option<Sp<String>>,
    pub admin_token: Option<String>,
    pub read_token: Option<String>,
    /// Plaintext gRPC on a non-loopback `grpc_listen` (behind a tunnel).
    pub allow_plaintext: Option<bool>,
    // TLS (config/tls.rs).
    pub tls_cert: Option<Sp<String>>,
    pub tls_key: Option<Sp<String>>,
    pub client_ca: Option<Sp<String>>,
    pub http_tls: Option<Sp<bool>>,
    // Leadership (config/collector.rs).
    pub leader_lease: Option<Sp<String>>,
    pub advertise_url: Option<Sp<String>>,
    /// Push check-ins (config/heartbeats.rs).
    pub heartbeat_enrollment_token: Option<String>,
}
debug_redacted!(RawCollector {
    grpc_listen, http_listen, database, public_url, allow_plaintext, tls_cert
} secret { admin_token, read_token, heartbeat_enrollment_token });

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    pub enrollment_token: Option<Sp<String>>,
    pub auto_approve: Option<bool>,
    pub heartbeat_interval: Option<Sp<String>>,
    pub missed_heartbeats: Option<Sp<u32>>,
    pub agents_per_service: Option<Sp<u32>>,
    pub settle_window: Option<Sp<String>>,
}
debug_redacted!(RawAgents {
    auto_approve, heartbeat_interval, missed_heartbeats, agents_per_service, settle_window
} secret { enrollment_token });

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub default_duration: Option<Sp<String>>,
    #[serde(default)]
    pub windows: Vec<Sp<RawMaintenanceWindow>>,
}

/// One `[[maintenance.windows]]`: a recurring window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenanceWindow {
    pub name: Option<Sp<String>>,
    pub equipment: Sp<String>,
    pub mode: Option<Sp<String>>,
    pub cron: Option<Sp<String>>,
    pub days: Option<Sp<Vec<String>>>,
    pub start: Option<Sp<String>>,
    pub duration: Sp<String>,
    pub timezone: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEquipment {
    pub id: Sp<String>,
    pub name: Option<String>,
    pub customer: Option<String>,
    /// Overrides `[defaults]`' (config/grouping.rs).
    pub equipment_down_ratio: Option<Sp<f64>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasicAuth {
    pub user: String,
    pub password: String,
}
debug_redacted!(RawBasicAuth { user } secret { password });

/// `quorum` and `priority` may be written as a string or a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawQuorum {
    Name(String),
    Number(i64),
}

impl RawQuorum {
    /// The value as text: `"majority"`, `2` → `"2"`.
    pub fn text(&self) -> String {
        match self {
            RawQuorum::Name(s) => s.clone(),
            RawQuorum::Number(n) => n.to_string(),
        }
    }
}

/// Declares the per-service check options once, for `[defaults]` (struct
/// `RawCheckOptions`) and for `[[services]]` (which adds its own keys).
macro_rules! check_options {
    ($($field:ident: $ty:ty,)*) => {
        /// Keys that `[defaults]` sets for every service and a service may override.
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawCheckOptions {
            $(pub $field: Option<$ty>,)*
        }

        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawService {
            pub id: Sp<String>,
            pub equipment: Sp<String>,
            pub url: Sp<String>,
            pub active: Option<bool>,
            $(pub $field: Option<$ty>,)*
        }

        /// `[defaults]`: the check options, and the keys of no service
        /// (config/grouping.rs).
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawDefaults {
            $(pub $field: Option<$ty>,)*
            pub equipment_down_ratio: Option<Sp<f64>>,
            pub host_grouping_window: Option<Sp<String>>,
            pub monitoring_down_ratio: Option<Sp<f64>>,
        }

        impl RawDefaults {
            /// The check options every service inherits.
            pub fn options(&self) -> RawCheckOptions {
                RawCheckOptions { $($field: self.$field.clone(),)* }
            }
        }

        impl RawCheckOptions {
            /// Each key from `self` if set there, else from `fallback`.
            pub fn or(&self, fallback: &RawCheckOptions) -> RawCheckOptions {
                RawCheckOptions {
                    $($field: self.$field.clone().or_else(|| fallback.$field.clone()),)*
                }
            }
        }

        impl RawService {
            /// The check options this service sets itself.
            pub fn options(&self) -> RawCheckOptions {
                RawCheckOptions { $($field: self.$field.clone(),)* }
            }
        }
    };
}

check_options! {
    interval: Sp<String>,
    timeout: Sp<String>,
    recheck_delay: Sp<String>,
    recheck_timeout: Sp<String>,
    quorum: Sp<RawQuorum>,
    failures_before_down: Sp<u32>,
    upgrade_to_https: Sp<bool>,
    expected_status: Sp<Vec<u16>>,
    method: Sp<String>,
    path: Sp<String>,
    headers: BTreeMap<String, String>,
    basic_auth: RawBasicAuth,
    body_contains: String,
    follow_redirects: bool,
    max_redirects: Sp<u32>,
    max_body: Sp<String>,
    reuse_connections: bool,
    regions: Vec<String>,
    priority: Sp<RawQuorum>,
    cert_expiry_warning: Sp<String>,
    degraded_after: Sp<u32>,
    remind_every: Sp<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub name: Sp<String>,
    pub url: Sp<String>,
    pub events: Option<Vec<Sp<String>>>,
    pub basic_auth: Option<RawBasicAuth>,
    pub secret: Option<Sp<String>>,
    pub timeout: Option<Sp<String>>,
    pub retry_initial: Option<Sp<String>>,
    pub retry_max_interval: Option<Sp<String>>,
    pub retry_for: Option<Sp<String>>,
    pub remind_every: Option<Sp<String>>,
}
debug_redacted!(RawWebhook {
    name, url, events, basic_auth, timeout, retry_initial, retry_max_interval, retry_for, remind_every
} secret { secret });

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub results: Option<Sp<String>>,
    pub events: Option<Sp<String>>,
    pub rollups: Option<Sp<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub probe_series: Option<Sp<String>>,
}

/// `[[heartbeats]]`: something that checks in by itself (config/heartbeats.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeat {
    pub id: Sp<String>,
    pub name: Option<String>,
    pub period: Option<Sp<String>>,
    pub grace: Option<Sp<String>>,
    pub equipment: Option<Sp<String>>,
    pub priority: Option<Sp<RawQuorum>>,
}
