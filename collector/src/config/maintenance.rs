//! `[maintenance]`: how long a window lasts when its start names no
//! duration, and the recurring windows (`[[maintenance.windows]]`).

use std::collections::HashSet;
use std::time::Duration;

use super::ConfigError;
use super::raw::{RawMaintenance, RawMaintenanceWindow, Sp};
use super::services::Equipment;
use super::source::Source;
use crate::domain::{EquipmentId, MaintenanceMode};
use crate::maintenance::schedule::{Cron, Schedule};

/// The shortest and longest recurring window.
const SHORTEST: Duration = Duration::from_secs(60);
const LONGEST: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone)]
pub struct MaintenanceSection {
    pub default_duration: Duration,
    pub windows: Vec<RecurringWindow>,
}

/// A validated `[[maintenance.windows]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurringWindow {
    /// Its `name`, else its schedule's text (`cron 0 2 * * sun`, `days
    /// sat,sun 02:00`): unique, what its windows' `schedule` shows.
    pub name: String,
    pub equipment: EquipmentId,
    pub mode: MaintenanceMode,
    /// The IANA name, as written (default `UTC`).
    pub timezone: String,
    pub schedule: Schedule,
}

pub(super) fn validate(
    src: &Source,
    m: &RawMaintenance,
) -> Result<MaintenanceSection, ConfigError> {
    Ok(MaintenanceSection {
        default_duration: src.opt_duration(
            "default_duration",
            m.default_duration.as_ref(),
            Duration::from_secs(4 * 3600),
        )?,
        windows: Vec::new(),
    })
}

/// The recurring windows, once the equipment they name is known.
pub(super) fn windows(
    src: &Source,
    m: &RawMaintenance,
    mut section: MaintenanceSection,
    equipment: &[Equipment],
) -> Result<MaintenanceSection, ConfigError> {
    let known: HashSet<&EquipmentId> = equipment.iter().map(|e| &e.id).collect();
    let mut names = HashSet::new();
    for w in &m.windows {
        let window = recurring(src, w.get_ref(), &known)?;
        if !names.insert(window.name.clone()) {
            return src.err(
                &w.span(),
                format!(
                    "maintenance window {:?} is defined twice; give each its own name",
                    window.name
                ),
            );
        }
        section.windows.push(window);
    }
    Ok(section)
}

fn recurring(
    src: &Source,
    w: &RawMaintenanceWindow,
    known: &HashSet<&EquipmentId>,
) -> Result<RecurringWindow, ConfigError> {
    let equipment = EquipmentId::from(w.equipment.get_ref().clone());
    if !known.contains(&equipment) {
        return src.err(
            &w.equipment.span(),
            format!("equipment: {equipment:?} is not an equipment defined before"),
        );
    }
    let mode = match &w.mode {
        None => MaintenanceMode::Pause,
        Some(m) => match m.get_ref().parse() {
            Ok(mode) => mode,
            Err(_) => {
                return src.err(
                    &m.span(),
                    format!("mode: {:?} is not pause or mute", m.get_ref()),
                );
            }
        },
    };
    let (cron, text) = match (&w.cron, &w.days, &w.start) {
        (Some(c), None, None) => {
            let cron = Cron::parse(c.get_ref()).or_else(|e| src.err(&c.span(), e))?;
            (cron, format!("cron {}", c.get_ref().trim()))
        }
        (None, Some(days), Some(start)) => {
            let cron = Cron::weekly(days.get_ref(), start.get_ref())
                .or_else(|e| src.err(&days.span(), e))?;
            (
                cron,
                format!("days {} {}", days.get_ref().join(","), start.get_ref()),
            )
        }
        (Some(c), _, _) => {
            return src.err(
                &c.span(),
                "give the schedule either as cron or as days + start, not both",
            );
        }
        (None, None, _) | (None, Some(_), None) => {
            return src.err(
                &w.equipment.span(),
                "a maintenance window needs a schedule: cron = \"...\" or days = [...] with start = \"HH:MM\"",
            );
        }
    };
    let duration = src.duration("duration", &w.duration)?;
    if !(SHORTEST..=LONGEST).contains(&duration) {
        return src.err(
            &w.duration.span(),
            format!(
                "duration: {:?} is out of range (1m to 7d)",
                w.duration.get_ref()
            ),
        );
    }
    let timezone = w
        .timezone
        .as_ref()
        .map_or_else(|| "UTC".to_owned(), |t| t.get_ref().clone());
    let tz = match jiff::tz::TimeZone::get(&timezone) {
        Ok(tz) => tz,
        Err(_) => {
            let span = w.timezone.as_ref().map_or(w.equipment.span(), Sp::span);
            return src.err(
                &span,
                format!(
                    "timezone: {timezone:?} is not a known IANA time zone (e.g. \"Europe/Paris\")"
                ),
            );
        }
    };
    Ok(RecurringWindow {
        name: w.name.as_ref().map_or(text, |n| n.get_ref().clone()),
        equipment,
        mode,
        timezone,
        schedule: Schedule { cron, duration, tz },
    })
}
