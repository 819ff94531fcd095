//! The collector's configuration: raw TOML → validated → typed.
//!
//! `raw` mirrors the file with `deny_unknown_fields` and spans; [`parse`]
//! checks every value and returns a [`Config`] whose services have their
//! `[defaults]` applied, or the first problem as a [`ConfigError`] naming
//! the file, the line and the reason. Nothing else reads TOML.

mod raw;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::{CheckSpec, EquipmentId, Quorum, ServiceId};
use raw::{RawCheckOptions, RawConfig, Sp};

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
    pub services: Vec<ServiceConfig>,
    pub webhooks: Vec<WebhookConfig>,
}

#[derive(Debug, Clone)]
pub struct CollectorSection {
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// `sqlite://…` (relative to the working directory) or `sqlite:///abs`.
    pub database: String,
    /// Base of the `link` in webhooks, without a trailing slash.
    pub public_url: String,
    /// Bearer token for admin calls; `None` leaves them open (loopback use).
    pub admin_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AgentsSection {
    pub enrollment_token: String,
    pub auto_approve: bool,
    pub heartbeat_interval: Duration,
    pub missed_heartbeats: u32,
    pub agents_per_service: usize,
    /// After a collector start, how long every agent has to reconnect
    /// before the dead-man's switch may fire.
    pub settle_window: Duration,
}

#[derive(Debug, Clone)]
pub struct MaintenanceSection {
    pub default_duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equipment {
    pub id: EquipmentId,
    pub name: String,
    pub customer: Option<String>,
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
    pub check: CheckSpec,
    pub recheck_delay: Duration,
    pub recheck_timeout: Duration,
    pub quorum: Quorum,
    pub failures_before_down: u32,
    /// Regions whose agents probe it; empty means all.
    pub regions: Vec<String>,
    /// `"0"`–`"3"`.
    pub priority: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub name: String,
    pub url: String,
    /// Event types it receives; empty means all.
    pub events: Vec<String>,
    pub basic_auth: Option<(String, String)>,
    /// Standard Webhooks secret (`whsec_…`), decoded key bytes.
    pub secret: Option<Vec<u8>>,
    pub timeout: Duration,
    pub retry_initial: Duration,
    pub retry_max_interval: Duration,
    pub retry_for: Duration,
}

impl WebhookConfig {
    /// Whether this webhook receives events of `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

impl Config {
    pub fn service(&self, id: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn equipment(&self, id: &str) -> Option<&Equipment> {
        self.equipment.iter().find(|e| e.id == id)
    }
}

/// The longest an agent waits between reconnect attempts (its backoff cap).
/// The default settle window adds it, so agents reconnecting after a
/// collector restart are not declared dead meanwhile.
pub use picket_proto::contract::AGENT_MAX_BACKOFF;

/// Every event type the collector emits (webhook `events` must name these).
pub const EVENT_TYPES: &[&str] = &[
    "request.opened",
    "request.closed",
    "service.down",
    "service.up",
    "service.local_failure",
    "agent.registered",
    "agent.approved",
    "agent.suspended",
    "agent.down",
    "agent.up",
    "agent.duplicate",
    "maintenance.started",
    "maintenance.ended",
];

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

/// Validates `text`, the content of `file`.
pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
    let v = Validator { file, text };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| v.line_of(&s));
        ConfigError {
            file: file.to_owned(),
            line,
            key: None,
            reason: e.message().trim().to_owned(),
        }
    })?;
    v.validate(raw)
}

/// Parses a duration as written in the config and on command lines:
/// `1500ms`, `2s`, `10m`, `4h`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration {s:?} ({e}); write e.g. 1500ms, 2s, 10m, 4h, 1h30m"))
}

/// Formats a duration the way the config writes it (`10s`, `1500ms`, `1h30m`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1000;
    let mut out = String::new();
    for (unit, len) in [("h", 3600), ("m", 60)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    if secs > 0 || out.is_empty() {
        out.push_str(&format!("{secs}s"));
    }
    out
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Validator<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn err<T>(&self, span: &Range<usize>, reason: impl Into<String>) -> Result<T, ConfigError> {
        Err(ConfigError {
            file: self.file.to_owned(),
            line: Some(self.line_of(span)),
            key: None,
            reason: reason.into(),
        })
    }

    fn err_key<T>(&self, key: &str, reason: impl Into<String>) -> Result<T, ConfigError> {
        Err(ConfigError {
            file: self.file.to_owned(),
            line: None,
            key: Some(key.to_owned()),
            reason: reason.into(),
        })
    }

    fn duration(&self, key: &str, v: &Sp<String>) -> Result<Duration, ConfigError> {
        parse_duration(v.get_ref()).or_else(|e| self.err(&v.span(), format!("{key}: {e}")))
    }

    fn opt_duration(
        &self,
        key: &str,
        v: &Option<Sp<String>>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        v.as_ref().map_or(Ok(default), |v| self.duration(key, v))
    }

    fn addr(&self, key: &str, v: &Sp<String>) -> Result<SocketAddr, ConfigError> {
        v.get_ref().parse().or_else(|_| {
            self.err(
                &v.span(),
                format!(
                    "{key}: {:?} is not an address like 127.0.0.1:7070",
                    v.get_ref()
                ),
            )
        })
    }

    fn http_url(&self, key: &str, v: &Sp<String>) -> Result<reqwest::Url, ConfigError> {
        let bad = |why: &str| {
            self.err(
                &v.span(),
                format!("{key}: invalid URL {:?}: {why}", v.get_ref()),
            )
        };
        match reqwest::Url::parse(v.get_ref()) {
            Err(e) => bad(&e.to_string()),
            Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
                bad("the scheme must be http or https")
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => bad("it has no host"),
            Ok(u) => Ok(u),
        }
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let c = &raw.collector;
        let database = c.database.get_ref().clone();
        if !database.starts_with("sqlite:") {
            return self.err(&c.database.span(), format!(
                "database: {database:?} is not supported (use sqlite://FILE; PostgreSQL comes later)"
            ));
        }
        let http_listen = match &c.http_listen {
            Some(v) => self.addr("http_listen", v)?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let public_url = match &c.public_url {
            Some(v) => self
                .http_url("public_url", v)?
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            None => format!("http://{http_listen}"),
        };
        let collector = CollectorSection {
            grpc_listen: match &c.grpc_listen {
                Some(v) => self.addr("grpc_listen", v)?,
                None => SocketAddr::from(([127, 0, 0, 1], 7070)),
            },
            http_listen,
            database,
            public_url,
            admin_token: c.admin_token.clone().filter(|t| !t.is_empty()),
        };

        let a = &raw.agents;
        let mut agents = AgentsSection {
            enrollment_token: match &a.enrollment_token {
                Some(t) if !t.get_ref().is_empty() => t.get_ref().clone(),
                Some(t) => return self.err(&t.span(), "enrollment_token: must not be empty"),
                None => return self.err_key("agents.enrollment_token", "is required"),
            },
            auto_approve: a.auto_approve.unwrap_or(false),
            heartbeat_interval: self.opt_duration(
                "heartbeat_interval",
                &a.heartbeat_interval,
                Duration::from_secs(10),
            )?,
            missed_heartbeats: match &a.missed_heartbeats {
                Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
                Some(n) => return self.err(&n.span(), "missed_heartbeats: must be at least 1"),
                None => 3,
            },
            agents_per_service: match &a.agents_per_service {
                Some(n) if *n.get_ref() >= 1 => *n.get_ref() as usize,
                Some(n) => return self.err(&n.span(), "agents_per_service: must be at least 1"),
                None => 3,
            },
            settle_window: Duration::ZERO,
        };
        agents.settle_window = self.opt_duration(
            "settle_window",
            &a.settle_window,
            agents.heartbeat_interval * agents.missed_heartbeats + AGENT_MAX_BACKOFF,
        )?;
        if agents.heartbeat_interval < Duration::from_millis(100) {
            return self.err_key("agents.heartbeat_interval", "must be at least 100ms");
        }

        let maintenance = MaintenanceSection {
            default_duration: self.opt_duration(
                "default_duration",
                &raw.maintenance.default_duration,
                Duration::from_secs(4 * 3600),
            )?,
        };

        let mut equipment = Vec::new();
        let mut seen = HashSet::new();
        for e in &raw.equipment {
            let id = e.id.get_ref();
            if !is_slug(id) {
                return self.err(
                    &e.id.span(),
                    format!("equipment id {id:?}: use letters, digits, '-', '_' or '.'"),
                );
            }
            if !seen.insert(id.clone()) {
                return self.err(
                    &e.id.span(),
                    format!("equipment id {id:?} is defined twice"),
                );
            }
            equipment.push(Equipment {
                id: id.clone(),
                name: e.name.clone().unwrap_or_else(|| id.clone()),
                customer: e.customer.clone(),
            });
        }

        let defaults = &raw.defaults;
        let mut services = Vec::new();
        let mut seen = HashSet::new();
        for s in &raw.services {
            let id = s.id.get_ref();
            if !is_slug(id) {
                return self.err(
                    &s.id.span(),
                    format!("service id {id:?}: use letters, digits, '-', '_' or '.'"),
                );
            }
            if !seen.insert(id.clone()) {
                return self.err(&s.id.span(), format!("service id {id:?} is defined twice"));
            }
            if !equipment.iter().any(|e| &e.id == s.equipment.get_ref()) {
                return self.err(&s.equipment.span(), format!(
                    "service {id:?}: unknown equipment {:?} (add an [[equipment]] with that id)",
                    s.equipment.get_ref()
                ));
            }
            services.push(self.service(s, &s.options(), defaults)?);
        }

        let mut webhooks = Vec::new();
        let mut seen = HashSet::new();
        for w in &raw.webhooks {
            let name = w.name.get_ref();
            if !seen.insert(name.clone()) {
                return self.err(
                    &w.name.span(),
                    format!("webhook name {name:?} is used twice"),
                );
            }
            let url = self.http_url("url", &w.url)?.to_string();
            let mut events = Vec::new();
            for e in w.events.iter().flatten() {
                if !EVENT_TYPES.contains(&e.get_ref().as_str()) {
                    return self.err(
                        &e.span(),
                        format!(
                            "webhook {name:?}: unknown event {:?} (known: {})",
                            e.get_ref(),
                            EVENT_TYPES.join(", ")
                        ),
                    );
                }
                events.push(e.get_ref().clone());
            }
            let secret = match &w.secret {
                None => None,
                Some(s) => Some(
                    decode_secret(s.get_ref())
                        .or_else(|e| self.err(&s.span(), format!("secret: {e}")))?,
                ),
            };
            webhooks.push(WebhookConfig {
                name: name.clone(),
                url,
                events,
                basic_auth: w
                    .basic_auth
                    .as_ref()
                    .map(|b| (b.user.clone(), b.password.clone())),
                secret,
                timeout: self.opt_duration("timeout", &w.timeout, Duration::from_secs(15))?,
                retry_initial: self.opt_duration(
                    "retry_initial",
                    &w.retry_initial,
                    Duration::from_secs(5),
                )?,
                retry_max_interval: self.opt_duration(
                    "retry_max_interval",
                    &w.retry_max_interval,
                    Duration::from_secs(3600),
                )?,
                retry_for: self.opt_duration(
                    "retry_for",
                    &w.retry_for,
                    Duration::from_secs(24 * 3600),
                )?,
            });
        }

        Ok(Config {
            collector,
            agents,
            maintenance,
            equipment,
            services,
            webhooks,
        })
    }

    /// One service: its own keys, else `[defaults]`, else the built-in default.
    fn service(
        &self,
        s: &raw::RawService,
        own: &RawCheckOptions,
        d: &RawCheckOptions,
    ) -> Result<ServiceConfig, ConfigError> {
        macro_rules! pick {
            ($f:ident) => {
                own.$f.as_ref().or(d.$f.as_ref())
            };
        }
        let dur = |key: &str, v: Option<&Sp<String>>, default: Duration| match v {
            Some(v) => self.duration(key, v),
            None => Ok(default),
        };
        let id = s.id.get_ref().clone();
        let url = self.http_url("url", &s.url)?;
        let interval = dur("interval", pick!(interval), Duration::from_secs(60))?;
        if interval < Duration::from_secs(1) {
            let span = pick!(interval)
                .map(|v| v.span())
                .unwrap_or_else(|| s.id.span());
            return self.err(&span, "interval: must be at least 1s");
        }
        let timeout = dur("timeout", pick!(timeout), Duration::from_secs(10))?;
        if timeout.is_zero() {
            let span = pick!(timeout)
                .map(|v| v.span())
                .unwrap_or_else(|| s.id.span());
            return self.err(&span, "timeout: must be more than 0s");
        }
        let recheck_delay = dur(
            "recheck_delay",
            pick!(recheck_delay),
            Duration::from_secs(2),
        )?;
        let recheck_timeout = dur(
            "recheck_timeout",
            pick!(recheck_timeout),
            timeout + Duration::from_secs(2),
        )?;
        let quorum = match pick!(quorum) {
            None => Quorum::Majority,
            Some(q) => {
                let text = match q.get_ref() {
                    raw::RawQuorum::Name(s) => s.clone(),
                    raw::RawQuorum::Number(n) => n.to_string(),
                };
                text.parse().or_else(|e: String| self.err(&q.span(), e))?
            }
        };
        let failures_before_down = match pick!(failures_before_down) {
            Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
            Some(n) => return self.err(&n.span(), "failures_before_down: must be at least 1"),
            None => 1,
        };
        let upgrade = pick!(upgrade_to_https).is_none_or(|v| *v.get_ref());
        let expected_status = match pick!(expected_status) {
            None => vec![200],
            Some(list) => {
                if list.get_ref().is_empty() {
                    return self.err(
                        &list.span(),
                        "expected_status: must list at least one status",
                    );
                }
                for code in list.get_ref() {
                    if !(100..=599).contains(code) {
                        return self.err(
                            &list.span(),
                            format!("expected_status: {code} is not an HTTP status"),
                        );
                    }
                }
                list.get_ref().clone()
            }
        };
        let method = match pick!(method) {
            None => "GET".to_owned(),
            Some(m) => match m.get_ref().to_ascii_uppercase().as_str() {
                "GET" => "GET".to_owned(),
                "HEAD" => "HEAD".to_owned(),
                other => {
                    return self.err(&m.span(), format!("method: {other:?} is not GET or HEAD"));
                }
            },
        };
        let priority = match pick!(priority) {
            None => "2".to_owned(),
            Some(p) => {
                let text = match p.get_ref() {
                    raw::RawQuorum::Name(s) => s.clone(),
                    raw::RawQuorum::Number(n) => n.to_string(),
                };
                if !["0", "1", "2", "3"].contains(&text.as_str()) {
                    return self.err(
                        &p.span(),
                        format!("priority: {text:?} is not \"0\" to \"3\""),
                    );
                }
                text
            }
        };
        let max_redirects = pick!(max_redirects).map_or(10, |n| *n.get_ref());
        let max_body_bytes = match pick!(max_body) {
            None => 1 << 20,
            Some(v) => parse_size(v.get_ref())
                .or_else(|e| self.err(&v.span(), format!("max_body: {e}")))?,
        };

        let mut probe_url = url.clone();
        if upgrade && probe_url.scheme() == "http" {
            // Url::set_scheme only fails between special and non-special schemes.
            let _ = probe_url.set_scheme("https");
            if probe_url.port() == Some(80) {
                let _ = probe_url.set_port(None);
            }
        }
        if let Some(path) = pick!(path) {
            let joined = format!(
                "{}/{}",
                probe_url.path().trim_end_matches('/'),
                path.get_ref().trim_start_matches('/')
            );
            probe_url.set_path(&joined);
        }

        let check = CheckSpec {
            id: id.clone(),
            url: probe_url.to_string(),
            method,
            headers: pick!(headers).cloned().unwrap_or_default(),
            basic_auth: pick!(basic_auth).map(|b| (b.user.clone(), b.password.clone())),
            expected_status,
            body_contains: pick!(body_contains).filter(|b| !b.is_empty()).cloned(),
            follow_redirects: pick!(follow_redirects).is_none_or(|v| *v),
            max_redirects,
            timeout_ms: timeout.as_millis() as u64,
            interval_ms: interval.as_millis() as u64,
            max_body_bytes,
            reuse_connections: pick!(reuse_connections).is_some_and(|v| *v),
        };
        Ok(ServiceConfig {
            id,
            equipment: s.equipment.get_ref().clone(),
            url: s.url.get_ref().clone(),
            active: s.active.unwrap_or(true),
            check,
            recheck_delay,
            recheck_timeout,
            quorum,
            failures_before_down,
            regions: pick!(regions).cloned().unwrap_or_default(),
            priority,
        })
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `1048576`, `512KiB`, `1MiB`.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 1MiB"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "kB" | "KB" => 1024,
        "MiB" | "MB" => 1 << 20,
        _ => return Err(format!("{s:?} is not a size like 1MiB")),
    };
    Ok(n * mult)
}

/// Decodes a Standard Webhooks secret: `whsec_` + base64.
fn decode_secret(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let b64 = s.strip_prefix("whsec_").unwrap_or(s);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "expected whsec_ followed by base64".to_owned())
}

#[cfg(test)]
mod tests;
