//! `[maintenance]`: how long a window lasts when its start names no duration.

use std::time::Duration;

use super::ConfigError;
use super::raw::RawMaintenance;
use super::source::Source;

#[derive(Debug, Clone)]
pub struct MaintenanceSection {
    pub default_duration: Duration,
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
    })
}
