//! `[[equipment]]` and `[[services]]`: what is monitored, and the check
//! each service's agents run.
//!
//! A service here is checked on its own; whether its equipment exists and
//! which `[defaults]` it inherits are decided by the caller, `super::parse`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::ConfigError;
use super::defaults;
use super::raw::{RawCheckOptions, RawEquipment, RawService};
use super::source::Source;
use crate::domain::{CheckSpec, EquipmentId, Quorum, ServiceId};

#[derive(Debug, Clone, PartialEq)]
pub struct Equipment {
    pub id: EquipmentId,
    pub name: String,
    pub customer: Option<String>,
    /// Its own `equipment_down_ratio`, over `[defaults]`' (config/grouping.rs).
    pub down_ratio: Option<f64>,
}

/// One service with every `[defaults]` key applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub id: ServiceId,
    pub equipment: EquipmentId,
    /// The URL as configured (used in request names).
    pub url: String,
    pub active: bool,
    /// What the agents run.
    pub check: Arc<CheckSpec>,
    pub recheck_delay: Duration,
    pub recheck_timeout: Duration,
    pub quorum: Quorum,
    pub failures_before_down: u32,
    /// See `[defaults] degraded_after`.
    pub degraded_after: u32,
    /// Regions whose agents probe it; empty means all.
    pub regions: Vec<String>,
    /// `"0"`–`"3"`.
    pub priority: String,
    /// `service.cert_expiring` fires when the earliest certificate expires
    /// within this (`cert_expiry_warning`, default 14d).
    pub cert_expiry_warning: Duration,
    /// Reminders of its open, unacknowledged request (`remind_every`,
    /// its own or `[defaults]`'); `None`: none.
    pub remind_every: Option<Duration>,
}

/// Checks every `[[equipment]]`; ids are unique slugs (not yet in `seen`,
/// which they join), `name` defaults to the id.
pub(super) fn equipment(
    src: &Source,
    raw: &[RawEquipment],
    seen: &mut HashSet<String>,
) -> Result<Vec<Equipment>, ConfigError> {
    raw.iter()
        .map(|e| {
            let id: EquipmentId = src.new_id("equipment", &e.id, seen)?;
            Ok(Equipment {
                name: e.name.clone().unwrap_or_else(|| id.to_string()),
                id,
                customer: e.customer.clone(),
                down_ratio: super::grouping::ratio(
                    src,
                    "equipment_down_ratio",
                    e.equipment_down_ratio.as_ref(),
                )?,
            })
        })
        .collect()
}

/// Checks one service running with `options`, its own keys already merged
/// over `[defaults]` by the caller. The URL is checked first.
pub(super) fn service(
    src: &Source,
    s: &RawService,
    options: &RawCheckOptions,
) -> Result<ServiceConfig, ConfigError> {
    let url = src.http_url("url", &s.url)?;
    let o = defaults::validate(src, options, &s.id.span())?;
    let id = ServiceId::from(s.id.get_ref().as_str());
    let check = CheckSpec {
        id: id.clone(),
        url: probe_url(url, o.upgrade_to_https, o.path.as_deref()),
        method: o.method,
        headers: o.headers,
        basic_auth: o.basic_auth,
        expected_status: o.expected_status,
        body_contains: o.body_contains,
        follow_redirects: o.follow_redirects,
        max_redirects: o.max_redirects,
        timeout_ms: o.timeout.as_millis() as u64,
        interval_ms: o.interval.as_millis() as u64,
        max_body_bytes: o.max_body_bytes,
        reuse_connections: o.reuse_connections,
    };
    Ok(ServiceConfig {
        id,
        equipment: EquipmentId::from(s.equipment.get_ref().as_str()),
        url: s.url.get_ref().clone(),
        active: s.active.unwrap_or(true),
        check: check.into(),
        recheck_delay: o.recheck_delay,
        recheck_timeout: o.recheck_timeout,
        quorum: o.quorum,
        failures_before_down: o.failures_before_down,
        degraded_after: o.degraded_after,
        regions: o.regions,
        priority: o.priority,
        cert_expiry_warning: o.cert_expiry_warning,
        remind_every: o.remind_every,
    })
}

/// The URL the agents probe: `http` upgraded to `https` (dropping an
/// explicit port 80) when asked, then `path` appended.
fn probe_url(mut url: reqwest::Url, upgrade: bool, path: Option<&str>) -> String {
    if upgrade && url.scheme() == "http" {
        // Url::set_scheme only fails between special and non-special schemes.
        let _ = url.set_scheme("https");
        if url.port() == Some(80) {
            let _ = url.set_port(None);
        }
    }
    if let Some(path) = path {
        let joined = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
    }
    url.to_string()
}
