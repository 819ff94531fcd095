//! `[[heartbeats]]`: things that check in by themselves with
//! `POST /ping/{token}` every `period` (required), late after `grace`
//! more (default 1m). `equipment` (defined before) puts the heartbeat in
//! that equipment's maintenance windows; `priority` is the request's, as
//! for services.

use std::collections::HashSet;
use std::time::Duration;

use super::raw::RawHeartbeat;
use super::source::Source;
use super::{ConfigError, Equipment};
use crate::domain::{EquipmentId, HeartbeatId};

/// The default `grace`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);
/// The shortest `period`: shorter would ping faster than one a second.
pub const MIN_PERIOD: Duration = Duration::from_secs(1);

/// One configured heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatConfig {
    pub id: HeartbeatId,
    /// Its display name (the id when unset).
    pub name: String,
    pub period: Duration,
    pub grace: Duration,
    pub equipment: Option<EquipmentId>,
    /// `"0"` to `"3"`.
    pub priority: String,
}

/// The heartbeats actor's and the `/heartbeats/register` route's part.
#[derive(Clone, PartialEq)]
pub struct HeartbeatSettings {
    pub configured: std::sync::Arc<Vec<HeartbeatConfig>>,
    /// `[collector] heartbeat_enrollment_token`.
    pub enrollment_token: Option<String>,
}
crate::redact::debug_redacted!(HeartbeatSettings { configured } secret { enrollment_token });

impl From<&super::Config> for HeartbeatSettings {
    fn from(c: &super::Config) -> Self {
        HeartbeatSettings {
            configured: c.heartbeats.clone(),
            enrollment_token: c.collector.heartbeat_enrollment_token.clone(),
        }
    }
}

/// Checks every `[[heartbeats]]` table against the equipment defined.
pub(super) fn validate(
    src: &Source,
    raw: &[RawHeartbeat],
    equipment: &[Equipment],
) -> Result<Vec<HeartbeatConfig>, ConfigError> {
    let mut seen = HashSet::new();
    raw.iter()
        .map(|h| {
            let id: HeartbeatId = src.new_id("heartbeat", &h.id, &mut seen)?;
            let Some(period) = &h.period else {
                return src.err(
                    &h.id.span(),
                    format!("heartbeat {id:?}: period is required"),
                );
            };
            let period = src.duration("period", period)?;
            if period < MIN_PERIOD {
                return src.err(
                    &h.period.as_ref().map_or(h.id.span(), |p| p.span()),
                    "period: at least 1s",
                );
            }
            let grace = src.opt_duration("grace", h.grace.as_ref(), DEFAULT_GRACE)?;
            let equipment = match &h.equipment {
                None => None,
                Some(e) => {
                    let id = EquipmentId::from(e.get_ref().as_str());
                    if !equipment.iter().any(|q| q.id == id) {
                        return src.err(
                            &e.span(),
                            format!("equipment {:?} is not defined", e.get_ref()),
                        );
                    }
                    Some(id)
                }
            };
            Ok(HeartbeatConfig {
                name: h.name.clone().unwrap_or_else(|| id.to_string()),
                id,
                period,
                grace,
                equipment,
                priority: super::defaults::priority(src, h.priority.as_ref())?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(extra: &str) -> Result<crate::config::Config, ConfigError> {
        let text = format!(
            "[collector]\ndatabase = \"sqlite://x.db\"\n[agents]\nenrollment_token = \"t\"\n\
             [[equipment]]\nid = \"nas\"\n{extra}"
        );
        crate::config::parse(Path::new("picket.toml"), &text)
    }

    #[test]
    fn heartbeats_take_their_defaults_and_name_their_problems() {
        let c = parse("[[heartbeats]]\nid = \"backup\"\nperiod = \"1h\"\nequipment = \"nas\"\n")
            .expect("valid");
        assert_eq!(
            *c.heartbeats,
            [HeartbeatConfig {
                id: "backup".into(),
                name: "backup".into(),
                period: Duration::from_secs(3600),
                grace: DEFAULT_GRACE,
                equipment: Some("nas".into()),
                priority: "2".into(),
            }]
        );
        let e = parse("[[heartbeats]]\nid = \"b\"\n").expect_err("no period");
        assert_eq!(
            e.to_string(),
            "picket.toml:8: heartbeat \"b\": period is required"
        );
        let e = parse("[[heartbeats]]\nid = \"b\"\nperiod = \"1h\"\nequipment = \"web\"\n")
            .expect_err("unknown equipment");
        assert_eq!(
            e.to_string(),
            "picket.toml:10: equipment \"web\" is not defined"
        );
        let e = parse("[[heartbeats]]\nid = \"b\"\nperiod = \"1h\"\n[[heartbeats]]\nid = \"b\"\nperiod = \"1h\"\n")
            .expect_err("twice");
        assert!(
            e.to_string()
                .contains("heartbeat id \"b\" is defined twice"),
            "{e}"
        );
    }
}
