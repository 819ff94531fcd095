//! The part of a [`Config`] each actor reads, one small struct per actor.
//!
//! Each struct holds exactly the values its actor reads and is built with
//! `From<&Config>`; [`Settings`] cuts a whole config at once. `run` builds
//! it once and hands each actor its part, which the actor owns, so a
//! reload can validate a new file and hand every actor its new part. The
//! structs are plain data: no channels, no behaviour beyond lookups. The
//! store's event routing ([`EventSettings`]) is cut here too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Config, Equipment, ServiceConfig, WebhookConfig};
use crate::domain::{EquipmentId, Quorum, ServiceId};
use crate::redact::debug_redacted;
use crate::store::EventSettings;

/// Every actor's part of one [`Config`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub lifecycle: LifecycleSettings,
    pub evaluator: EvaluatorSettings,
    pub liveness: LivenessSettings,
    pub registry: RegistrySettings,
    pub maintenance: MaintenanceSettings,
    pub notifier: NotifierSettings,
    pub catalog: CatalogSettings,
    pub api: ApiSettings,
    /// The store's: which webhooks receive which events, request links.
    pub events: EventSettings,
    pub retention: RetentionSettings,
    /// `/metrics`: how the `probe_*` families are cut.
    pub metrics: super::MetricsSection,
    /// The reminder actor's cadences.
    pub reminders: crate::reminders::RemindersSettings,
    /// Push check-ins: the configured heartbeats, the enrollment token.
    pub heartbeats: super::HeartbeatSettings,
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Settings {
            lifecycle: c.into(),
            evaluator: c.into(),
            liveness: c.into(),
            registry: c.into(),
            maintenance: c.into(),
            notifier: c.into(),
            catalog: c.into(),
            api: c.into(),
            events: c.into(),
            retention: c.into(),
            metrics: c.metrics,
            reminders: c.into(),
            heartbeats: c.into(),
        }
    }
}

/// The lifecycle: what requests and `service.*` events say about a service.
/// It borrows from the configuration's services (shared, not copied: at a
/// million services a copy was 250 MB) through an index sorted by id.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleSettings {
    services: Arc<Vec<ServiceConfig>>,
    /// Indices in `services`, sorted by service id.
    by_id: Vec<u32>,
    /// Each equipment's display name (its id if it has none).
    equipment_names: HashMap<EquipmentId, String>,
    /// One request per root cause (`lifecycle/grouping.rs`).
    pub grouping: Arc<crate::lifecycle::grouping::GroupingSettings>,
}

/// One service as the lifecycle sees it, borrowed from the settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleService<'a> {
    pub id: &'a ServiceId,
    /// The URL as configured: request names and descriptions.
    pub url: &'a str,
    /// The request priority, `"0"`–`"3"`.
    pub priority: &'a str,
    pub equipment: &'a EquipmentId,
    /// The equipment's display name (its id if it has none).
    pub equipment_name: &'a str,
}

impl From<&Config> for LifecycleSettings {
    fn from(c: &Config) -> Self {
        let equipment_names = c
            .equipment
            .iter()
            .map(|e| (e.id.clone(), e.name.clone()))
            .collect();
        let by_id = each_service_index(c)
            .into_iter()
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        LifecycleSettings {
            services: c.services.clone(),
            by_id,
            equipment_names,
            grouping: Arc::new(c.into()),
        }
    }
}

impl LifecycleSettings {
    pub fn service(&self, id: &ServiceId) -> Option<LifecycleService<'_>> {
        let config = |i: u32| self.services.get(i as usize);
        let at = self
            .by_id
            .binary_search_by(|i| config(*i).map(|s| &s.id).cmp(&Some(id)))
            .ok()?;
        let s = config(self.by_id[at])?;
        Some(LifecycleService {
            id: &s.id,
            url: &s.url,
            priority: &s.priority,
            equipment: &s.equipment,
            equipment_name: self
                .equipment_names
                .get(&s.equipment)
                .map_or(s.equipment.as_str(), String::as_str),
        })
    }
}

/// The evaluator: each service's verdict policy and what check-now waits.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatorSettings {
    /// Every configured service, sorted by id; only active ones get a
    /// tracker.
    pub services: Vec<EvaluatorService>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatorService {
    pub id: ServiceId,
    /// Its trackers pause while this equipment is in maintenance.
    pub equipment: EquipmentId,
    pub active: bool,
    pub recheck_delay: Duration,
    pub recheck_timeout: Duration,
    pub quorum: Quorum,
    pub failures_before_down: u32,
    /// Rounds one agent fails below the quorum before `degraded`.
    pub degraded_after: u32,
    /// The check's own timeout (a check-now round waits it plus a margin).
    pub check_timeout: Duration,
    /// A result whose certificate expires within this is a candidate
    /// `service.cert_expiring` (`cert_expiry_warning`).
    pub cert_expiry_warning: Duration,
}

impl EvaluatorSettings {
    pub fn service(&self, id: &ServiceId) -> Option<&EvaluatorService> {
        by_id(&self.services, id, |s| &s.id)
    }
}

impl From<&Config> for EvaluatorSettings {
    fn from(c: &Config) -> Self {
        let services = each_service(c, |s| EvaluatorService {
            id: s.id.clone(),
            equipment: s.equipment.clone(),
            active: s.active,
            recheck_delay: s.recheck_delay,
            recheck_timeout: s.recheck_timeout,
            quorum: s.quorum,
            failures_before_down: s.failures_before_down,
            degraded_after: s.degraded_after,
            check_timeout: Duration::from_millis(s.check.timeout_ms),
            cert_expiry_warning: s.cert_expiry_warning,
        });
        EvaluatorSettings { services }
    }
}

/// Enrollment: who may join, and whether they start approved (read by the
/// registry, which calls `agents::enroll`).
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentSettings {
    pub enrollment_token: String,
    pub auto_approve: bool,
}
debug_redacted!(EnrollmentSettings { auto_approve } secret { enrollment_token });

impl From<&Config> for EnrollmentSettings {
    fn from(c: &Config) -> Self {
        EnrollmentSettings {
            enrollment_token: c.agents.enrollment_token.clone(),
            auto_approve: c.agents.auto_approve,
        }
    }
}

/// Liveness: the dead-man's switch, and the `[AGENT DOWN]` texts that
/// quote the interval and the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessSettings {
    pub heartbeat_interval: Duration,
    pub missed_heartbeats: u32,
    /// After a collector start, no agent is declared down before this.
    pub settle_window: Duration,
}

impl LivenessSettings {
    /// How long an agent may stay silent before it counts as down.
    pub fn dead_after(&self) -> Duration {
        self.heartbeat_interval * self.missed_heartbeats
    }
}

impl From<&Config> for LivenessSettings {
    fn from(c: &Config) -> Self {
        LivenessSettings {
            heartbeat_interval: c.agents.heartbeat_interval,
            missed_heartbeats: c.agents.missed_heartbeats,
            settle_window: c.agents.settle_window,
        }
    }
}

/// The agents registry: whom it admits (`agents::enroll`), which agents
/// run which checks (`agents::assign`), and the heartbeat interval its
/// welcome tells each agent.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySettings {
    pub enrollment: EnrollmentSettings,
    /// Every service; inactive ones and those in maintenance get no agents.
    pub services: Arc<Vec<ServiceConfig>>,
    pub agents_per_service: usize,
    pub heartbeat_interval: Duration,
}

impl From<&Config> for RegistrySettings {
    fn from(c: &Config) -> Self {
        RegistrySettings {
            enrollment: c.into(),
            services: c.services.clone(),
            agents_per_service: c.agents.agents_per_service,
            heartbeat_interval: c.agents.heartbeat_interval,
        }
    }
}

/// Maintenance: the default window length and the equipment it may name.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceSettings {
    pub default_duration: Duration,
    pub equipment: Vec<Equipment>,
    /// `[[maintenance.windows]]`: the recurring windows.
    pub windows: Vec<crate::config::RecurringWindow>,
}

impl MaintenanceSettings {
    /// The display name of equipment `id`, if it is configured.
    pub fn equipment_name(&self, id: &EquipmentId) -> Option<&str> {
        self.equipment
            .iter()
            .find(|e| &e.id == id)
            .map(|e| e.name.as_str())
    }
}

impl From<&Config> for MaintenanceSettings {
    fn from(c: &Config) -> Self {
        MaintenanceSettings {
            default_duration: c.maintenance.default_duration,
            equipment: c.equipment.clone(),
            windows: c.maintenance.windows.clone(),
        }
    }
}

/// The notifier: one delivery worker per webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifierSettings {
    pub webhooks: Vec<WebhookConfig>,
}

impl From<&Config> for NotifierSettings {
    fn from(c: &Config) -> Self {
        NotifierSettings {
            webhooks: c.webhooks.clone(),
        }
    }
}

/// What `Store::sync_config` writes: the equipment rows, and the services
/// rows (id, URL, equipment, active) that requests refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogSettings {
    pub equipment: Vec<Equipment>,
    pub services: Arc<Vec<ServiceConfig>>,
}

impl From<&Config> for CatalogSettings {
    fn from(c: &Config) -> Self {
        CatalogSettings {
            equipment: c.equipment.clone(),
            services: c.services.clone(),
        }
    }
}

/// The client API: the bearer tokens its calls need.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// Admin calls need it; without it they are refused.
    pub admin_token: Option<String>,
    /// Read calls need it or the admin token; without it they are open.
    pub read_token: Option<String>,
}
debug_redacted!(ApiSettings {} secret { admin_token, read_token });

impl From<&Config> for ApiSettings {
    fn from(c: &Config) -> Self {
        ApiSettings {
            admin_token: c.collector.admin_token.clone(),
            read_token: c.collector.read_token.clone(),
        }
    }
}

impl From<&Config> for EventSettings {
    fn from(c: &Config) -> Self {
        let routes = c
            .webhooks
            .iter()
            .map(|w| (w.name.clone(), w.events.clone()))
            .collect();
        EventSettings::new(routes, c.collector.public_url.clone())
    }
}

/// The pruner (`crate::retention`): how long each table keeps its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Raw results older than this go.
    pub results: Duration,
    /// Events older than this go, with their delivered and failed webhook
    /// outbox rows.
    pub events: Duration,
    /// Rollups whose hour or day ended longer ago than this go.
    pub rollups: Duration,
}

impl From<&Config> for RetentionSettings {
    fn from(c: &Config) -> Self {
        RetentionSettings {
            results: c.retention.results,
            events: c.retention.events,
            rollups: c.retention.rollups,
        }
    }
}

/// `f` of each service, sorted by id (see [`by_id`]).
fn each_service<T>(c: &Config, f: impl FnMut(&ServiceConfig) -> T) -> Vec<T> {
    let mut f = f;
    each_service_index(c)
        .into_iter()
        .map(|i| f(&c.services[i]))
        .collect()
}

/// The indices of the services, in the order of their ids.
fn each_service_index(c: &Config) -> Vec<usize> {
    let mut order: Vec<usize> = (0..c.services.len()).collect();
    order.sort_unstable_by(|a, b| c.services[*a].id.cmp(&c.services[*b].id));
    order
}

/// The item with `id` in `items`, which are sorted by id (as
/// [`each_service`] builds them): a binary search, so a million services
/// make no linear lookups.
fn by_id<'a, T>(items: &'a [T], id: &ServiceId, key: impl Fn(&T) -> &ServiceId) -> Option<&'a T> {
    let i = items.binary_search_by(|s| key(s).cmp(id)).ok()?;
    items.get(i)
}
