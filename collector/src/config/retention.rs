//! `[retention]`: how long raw results, events (with their finished webhook
//! deliveries) and rollups are kept before the pruner (`crate::retention`)
//! deletes them.

use std::time::Duration;

use super::ConfigError;
use super::raw::{RawRetention, Sp};
use super::source::Source;

/// The shortest retention accepted for any table: anything shorter would
/// delete rows about as fast as they arrive (a pass runs every 10 minutes)
/// and is almost certainly a typo (`7` minutes for `7d`).
pub const MIN_RETENTION: Duration = Duration::from_secs(3600);

const DAY: u64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSection {
    /// Raw probe results older than this are deleted.
    pub results: Duration,
    /// Events older than this are deleted, with their delivered and failed
    /// webhook outbox rows.
    pub events: Duration,
    /// Hourly and daily rollups whose period ended longer ago than this are
    /// deleted.
    pub rollups: Duration,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            results: Duration::from_secs(7 * DAY),
            events: Duration::from_secs(90 * DAY),
            rollups: Duration::from_secs(400 * DAY),
        }
    }
}

/// Checks `[retention]`: each key a duration of at least [`MIN_RETENTION`].
pub(super) fn validate(src: &Source, r: &RawRetention) -> Result<RetentionSection, ConfigError> {
    let defaults = RetentionSection::default();
    Ok(RetentionSection {
        results: retention(src, "results", r.results.as_ref(), defaults.results)?,
        events: retention(src, "events", r.events.as_ref(), defaults.events)?,
        rollups: retention(src, "rollups", r.rollups.as_ref(), defaults.rollups)?,
    })
}

fn retention(
    src: &Source,
    key: &str,
    v: Option<&Sp<String>>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(v) = v else {
        return Ok(default);
    };
    let d = src.duration(key, v)?;
    if d < MIN_RETENTION {
        return src.err(
            &v.span(),
            format!(
                "{key}: {:?} is too short: keep rows at least 1h (pruning runs every 10 minutes)",
                v.get_ref()
            ),
        );
    }
    Ok(d)
}
