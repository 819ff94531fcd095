//! How Picket writes durations and times for people, the same in the
//! collector's config and logs, the agent's logs and `picketctl`:
//! durations like `1500ms`, `2s`, `10m`, `4h`, `1h30m`; times as RFC 3339
//! in UTC with milliseconds.

use std::time::{Duration, UNIX_EPOCH};

/// The longest duration accepted: longer ones mean nothing here, overflow
/// timer arithmetic (`Instant + d`) and do not survive [`format_duration`].
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses a duration as written in the config and on command lines:
/// `1500ms`, `2s`, `10m`, `4h`, `1h30m` (surrounding blanks ignored); at
/// most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        format!("invalid duration {s:?} ({e}); write e.g. 1500ms, 2s, 10m, 4h, 1h30m")
    })?;
    if d > MAX_DURATION {
        return Err(format!("invalid duration {s:?}: longer than 100 years"));
    }
    Ok(d)
}

/// Formats a duration the way the config writes it: `0s`, `1500ms`, `10s`,
/// `1m30s`, `4h`; below a millisecond, `250us`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    if d.subsec_nanos() != 0 {
        let ms = d.as_millis();
        if ms > 0 && Duration::from_millis(ms as u64) == d {
            return format!("{ms}ms");
        }
        return format!("{}us", d.as_micros());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// The last millisecond RFC 3339 can write (9999-12-31T23:59:59.999Z).
const LAST_MS: i64 = 253_402_300_799_999;

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T06:09:00.123Z`, of
/// a time in epoch milliseconds. Times outside 1970..=9999 print as the
/// nearest end of that range.
pub fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.clamp(0, LAST_MS) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_as_the_config_writes_them() {
        let check = |text: &str, d: Duration| {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
            assert_eq!(format_duration(d), text.trim(), "{d:?}");
        };
        check("0s", Duration::ZERO);
        check("1500ms", Duration::from_millis(1500));
        check("2s", Duration::from_secs(2));
        check("1m30s", Duration::from_secs(90));
        check("4h", Duration::from_secs(4 * 3600));
        check("1h30m", Duration::from_secs(5400));
        check("250us", Duration::from_micros(250));
        assert!(parse_duration("4").is_err());
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .ends_with("write e.g. 1500ms, 2s, 10m, 4h, 1h30m")
        );
    }

    #[test]
    fn times_are_utc_millis_clamped_to_what_rfc3339_writes() {
        assert_eq!(rfc3339(1_614_265_330_123), "2021-02-25T15:02:10.123Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
    }
}
