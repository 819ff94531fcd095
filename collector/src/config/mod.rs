//! The collector's configuration: raw TOML → validated, one section at a time.
//!
//! `raw` mirrors the file with `deny_unknown_fields` and spans. [`parse`]
//! hands each raw section to its module's `validate` (`collector`, `agents`,
//! `maintenance`, `services` with the equipment, `webhooks`; `defaults`
//! holds the check options services inherit), in file order, and makes the
//! cross-section checks itself: a service's equipment exists, a service
//! runs with its own keys over `[defaults]`. `include` names more files of
//! `[[equipment]]` and `[[services]]` (`include` finds them, `parts` reads
//! and checks them on several threads, `catalog` gathers them with the
//! rules across files). The result is a [`Config`], or
//! the first problem as a [`ConfigError`] naming the file, the line and
//! the reason. Nothing else reads TOML.
//!
//! [`settings`] cuts a [`Config`] into the small part each actor reads.

mod agents;
mod catalog;
mod collector;
mod defaults;
pub mod grouping;
mod heartbeats;
mod include;
mod maintenance;
mod metrics;
mod parts;
mod raw;
mod retention;
mod services;
pub mod settings;
mod source;
mod tls;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use agents::{AGENT_MAX_BACKOFF, AgentsSection};
pub use collector::CollectorSection;
pub use heartbeats::{
    DEFAULT_GRACE as HEARTBEAT_DEFAULT_GRACE, HeartbeatConfig, HeartbeatSettings,
    MIN_PERIOD as HEARTBEAT_MIN_PERIOD,
};
pub use maintenance::{MaintenanceSection, RecurringWindow};
pub use metrics::{MetricsSection, ProbeSeries};
pub use retention::{MIN_RETENTION, RetentionSection};
pub use services::{Equipment, ServiceConfig};
pub use tls::TlsSection;
pub use webhooks::WebhookConfig;

use crate::domain::{EquipmentId, ServiceId};
use catalog::Catalog;
use raw::RawConfig;
use source::Source;

/// A configuration problem: where and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// The key, when no line applies.
    pub key: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = self.file.display();
        match (&self.line, &self.key) {
            (Some(line), _) => write!(f, "{file}:{line}: {}", self.reason),
            (None, Some(key)) => write!(f, "{file}: {key}: {}", self.reason),
            (None, None) => write!(f, "{file}: {}", self.reason),
        }
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub collector: CollectorSection,
    pub agents: AgentsSection,
    pub maintenance: MaintenanceSection,
    pub equipment: Vec<Equipment>,
    /// Shared, not copied, by every part that reads all of them (a
    /// million services are about 600 MB).
    pub services: Arc<Vec<ServiceConfig>>,
    pub webhooks: Vec<WebhookConfig>,
    pub retention: RetentionSection,
    pub metrics: MetricsSection,
    /// `[defaults] remind_every`: the reminders of agent requests.
    pub remind_every: Option<std::time::Duration>,
    /// `[[heartbeats]]` (push check-ins).
    pub heartbeats: Arc<Vec<HeartbeatConfig>>,
    /// One request per root cause (`[defaults]`' grouping keys).
    pub grouping: grouping::GroupingSection,
}

impl Config {
    /// The service `id`, active or not.
    pub fn service(&self, id: &ServiceId) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| &s.id == id)
    }

    /// The equipment `id`.
    pub fn equipment(&self, id: &EquipmentId) -> Option<&Equipment> {
        self.equipment.iter().find(|e| &e.id == id)
    }
}

/// Reads and validates the file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: None,
        key: None,
        reason: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Validates `text`, the content of `file`, and the files it includes.
pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
    let src = Source { file, text };
    validate(&src, from_toml(&src)?)
}

/// The TOML in `src` as `T`, or the parser's complaint at its line.
fn from_toml<T: serde::de::DeserializeOwned>(src: &Source) -> Result<T, ConfigError> {
    toml::from_str(src.text).map_err(|e| ConfigError {
        file: src.file.to_owned(),
        line: e.span().map(|s| src.line_of(&s)),
        key: None,
        reason: e.message().trim().to_owned(),
    })
}

/// Durations as the config (and every command line) writes them.
pub use picket_proto::contract::text::{MAX_DURATION, format_duration, parse_duration};

/// Validates every section in file order, then the services against the
/// equipment and `[defaults]`.
fn validate(src: &Source, raw: RawConfig) -> Result<Config, ConfigError> {
    let collector = collector::validate(src, &raw.collector)?;
    let agents = agents::validate(src, &raw.agents)?;
    let maintenance = maintenance::validate(src, &raw.maintenance)?;
    let (equipment, services) = monitored(src, &raw)?;
    let maintenance = maintenance::windows(src, &raw.maintenance, maintenance, &equipment)?;
    let services = Arc::new(services);
    let webhooks = webhooks::validate(src, &raw.webhooks)?;
    let retention = retention::validate(src, &raw.retention)?;
    let metrics = metrics::validate(src, &raw.metrics)?;
    let remind_every = defaults::remind_every(src, raw.defaults.remind_every.as_ref())?;
    let heartbeats = Arc::new(heartbeats::validate(src, &raw.heartbeats, &equipment)?);
    let grouping = grouping::validate(src, &raw.defaults)?;
    Ok(Config {
        collector,
        agents,
        maintenance,
        equipment,
        services,
        webhooks,
        retention,
        metrics,
        remind_every,
        heartbeats,
        grouping,
    })
}

/// The equipment and services of the main file, then of each included
/// file in turn (`catalog` holds the rules across them).
fn monitored(
    src: &Source,
    raw: &RawConfig,
) -> Result<(Vec<Equipment>, Vec<ServiceConfig>), ConfigError> {
    let mut catalog = Catalog::default();
    let defaults = raw.defaults.options();
    let checked = parts::check(src, &raw.services, &defaults);
    catalog.add(src, &raw.equipment, &raw.services, checked)?;
    let files = include::files(src, raw.include.as_deref().unwrap_or_default())?;
    parts::read(&files, &defaults, parts::threads(), |part| {
        let included = Source {
            file: &part.file,
            text: &part.text,
        };
        let raw = &part.raw;
        catalog.add(&included, &raw.equipment, &raw.services, part.checked)
    })?;
    Ok((catalog.equipment, catalog.services))
}

#[cfg(test)]
mod tests;
