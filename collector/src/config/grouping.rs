//! One request per root cause: `[defaults]`' `equipment_down_ratio`,
//! `host_grouping_window` and `monitoring_down_ratio`, and an
//! `[[equipment]]`'s own `equipment_down_ratio` (see `lifecycle/grouping.rs`).

use std::collections::HashMap;
use std::time::Duration;

use super::raw::{RawDefaults, Sp};
use super::source::Source;
use super::{Config, ConfigError};
use crate::domain::EquipmentId;

/// The built-in `equipment_down_ratio`: all of an equipment's services.
pub const EQUIPMENT_DOWN_RATIO: f64 = 1.0;
/// The built-in `monitoring_down_ratio`.
pub const MONITORING_DOWN_RATIO: f64 = 0.9;

/// How confirmed failures are grouped into one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupingSection {
    /// The share of an equipment's active services (at least 2) that,
    /// down within one window, open one `[HOST KO]` request.
    pub equipment_down_ratio: f64,
    /// `None`: one round window of the equipment's services (the longest
    /// `recheck_delay + recheck_timeout`).
    pub host_grouping_window: Option<Duration>,
    /// The share of all active services that, down within one window,
    /// opens `[MONITORING KO]` instead.
    pub monitoring_down_ratio: f64,
}

impl Default for GroupingSection {
    fn default() -> Self {
        GroupingSection {
            equipment_down_ratio: EQUIPMENT_DOWN_RATIO,
            host_grouping_window: None,
            monitoring_down_ratio: MONITORING_DOWN_RATIO,
        }
    }
}

/// `[defaults]`' grouping keys.
pub(super) fn validate(src: &Source, d: &RawDefaults) -> Result<GroupingSection, ConfigError> {
    let host_grouping_window = match &d.host_grouping_window {
        None => None,
        Some(v) => {
            let w = src.duration("host_grouping_window", v)?;
            if w.is_zero() {
                return src.err(&v.span(), "host_grouping_window: must be more than 0s");
            }
            Some(w)
        }
    };
    Ok(GroupingSection {
        equipment_down_ratio: ratio(src, "equipment_down_ratio", d.equipment_down_ratio.as_ref())?
            .unwrap_or(EQUIPMENT_DOWN_RATIO),
        host_grouping_window,
        monitoring_down_ratio: ratio(
            src,
            "monitoring_down_ratio",
            d.monitoring_down_ratio.as_ref(),
        )?
        .unwrap_or(MONITORING_DOWN_RATIO),
    })
}

/// A ratio in (0, 1].
pub(super) fn ratio(
    src: &Source,
    key: &str,
    v: Option<&Sp<f64>>,
) -> Result<Option<f64>, ConfigError> {
    let Some(v) = v else {
        return Ok(None);
    };
    let r = *v.get_ref();
    if !(r > 0.0 && r <= 1.0) {
        return src.err(
            &v.span(),
            format!("{key}: {r} is out of range: it must be more than 0 and at most 1"),
        );
    }
    Ok(Some(r))
}

/// One equipment's grouping rules.
#[derive(Debug, Clone, PartialEq)]
pub struct EquipmentGrouping {
    /// `equipment_down_ratio`.
    pub ratio: f64,
    /// `host_grouping_window`, or one round window of its services.
    pub window: Duration,
    /// Its configured active services.
    pub active: usize,
}

/// The grouping rules of a configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupingSettings {
    pub monitoring_down_ratio: f64,
    /// How `[MONITORING KO]` names this collector (its `advertise_url`).
    pub collector: String,
    pub equipment: HashMap<EquipmentId, EquipmentGrouping>,
}

impl From<&Config> for GroupingSettings {
    fn from(c: &Config) -> Self {
        let mut equipment: HashMap<EquipmentId, EquipmentGrouping> = c
            .equipment
            .iter()
            .map(|e| {
                let g = EquipmentGrouping {
                    ratio: e.down_ratio.unwrap_or(c.grouping.equipment_down_ratio),
                    window: c.grouping.host_grouping_window.unwrap_or_default(),
                    active: 0,
                };
                (e.id.clone(), g)
            })
            .collect();
        for s in c.services.iter().filter(|s| s.active) {
            if let Some(g) = equipment.get_mut(&s.equipment) {
                g.active += 1;
                if c.grouping.host_grouping_window.is_none() {
                    g.window = g.window.max(s.recheck_delay + s.recheck_timeout);
                }
            }
        }
        GroupingSettings {
            monitoring_down_ratio: c.grouping.monitoring_down_ratio,
            collector: c.collector.advertise_url.clone(),
            equipment,
        }
    }
}
