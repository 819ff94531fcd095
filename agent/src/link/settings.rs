//! `LinkSettings`: how the link reaches the collector and presents itself,
//! with the product's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use picket_proto::contract::AGENT_MAX_BACKOFF;

/// How the link reaches the collector and presents itself.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// Collector URLs (http://… or https://…), tried in this order.
    pub collectors: Vec<String>,
    /// Enrollment token, always sent in Hello.
    pub enrollment_token: String,
    /// Agent name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// How long to wait for Welcome (and for the TCP connect).
    pub welcome_timeout: Duration,
    /// First reconnect delay bound.
    pub backoff_initial: Duration,
    /// Largest reconnect delay bound.
    pub backoff_max: Duration,
    /// TLS for the `https://` collectors (`None`: plaintext only).
    pub tls: Option<picket_tls::Connector>,
    /// Told when a connection attempt ends (systemd readiness).
    pub status: crate::status::Status,
}

impl LinkSettings {
    /// Settings with the product defaults: 10 s welcome timeout, backoff
    /// 1 s → 30 s (the contract's `AGENT_MAX_BACKOFF`, which the
    /// collector's settle window counts on).
    pub fn new(
        collectors: Vec<String>,
        enrollment_token: String,
        name: String,
        region: String,
        labels: BTreeMap<String, String>,
    ) -> LinkSettings {
        LinkSettings {
            collectors,
            enrollment_token,
            name,
            region,
            labels,
            welcome_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(1),
            backoff_max: AGENT_MAX_BACKOFF,
            tls: None,
            status: crate::status::Status::default(),
        }
    }
}
