//! What the templates show, made from store rows: states in words with
//! their colour class, percentages, durations, ages, times, the 90 daily
//! bars and certificate expiry. Pure functions of their inputs (and
//! `now`), table-tested; no IO, no HTML (the templates escape).

use crate::domain::{ServiceState, cert};
use crate::store::Counts;
use crate::time::rfc3339;

const DAY_MS: i64 = 86_400_000;

/// A state as the pages show it: in words, and the CSS class that colours
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateView {
    pub word: &'static str,
    pub class: &'static str,
}

pub fn state(s: ServiceState) -> StateView {
    let (word, class) = match s {
        ServiceState::Up => ("Up", "st-up"),
        ServiceState::Down => ("Down", "st-down"),
        ServiceState::Suspect => ("Suspect", "st-suspect"),
        ServiceState::Degraded => ("Degraded", "st-degraded"),
        ServiceState::Maintenance => ("Maintenance", "st-maint"),
        ServiceState::Paused => ("Paused", "st-paused"),
        ServiceState::Unknown => ("Unknown", "st-unknown"),
    };
    StateView { word, class }
}

/// An uptime as a percentage, never rounded up to 100 % when a probe
/// failed; "no data" without probes.
pub fn percent(uptime: Option<f64>) -> String {
    match uptime {
        None => "no data".to_owned(),
        Some(u) if u >= 1.0 => "100%".to_owned(),
        Some(u) => format!("{:.2}%", (u * 10_000.0).floor() / 100.0),
    }
}

/// A latency in microseconds for people: `850 µs`, `12.3 ms`, `1.25 s`.
pub fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..100_000 => format!("{:.1} ms", us as f64 / 1000.0),
        100_000..10_000_000 => format!("{} ms", us / 1000),
        _ => format!("{:.2} s", us as f64 / 1_000_000.0),
    }
}

/// An optional phase: its duration, or an em dash when not measured.
pub fn phase(us: Option<u64>) -> String {
    us.map_or_else(|| "—".to_owned(), micros)
}

/// How long ago (or how long) `ms` is, in its two largest units:
/// `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A time for people: `2026-11-30 04:05:12 UTC`.
pub fn time(ms: i64) -> String {
    let t = rfc3339(ms);
    let t = t.split('.').next().unwrap_or(&t).trim_end_matches('Z');
    format!("{} UTC", t.replacen('T', " ", 1))
}

/// A UTC day for people: `2026-11-30`.
pub fn day(ms: i64) -> String {
    rfc3339(ms).chars().take(10).collect()
}

/// One daily bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Its x position in the 90-bar SVG.
    pub x: i64,
    /// Its colour class by uptime (`b-none` without probes).
    pub class: &'static str,
    /// The day and its uptime in words.
    pub label: String,
}

/// Bar width plus gap, in SVG units.
pub const BAR_STEP: i64 = 3;

/// The daily bars, and their summary in words (the text alternative).
pub fn bars(daily: &[(i64, Counts)]) -> (Vec<Bar>, String) {
    let mut bad: Vec<(f64, i64)> = Vec::new();
    let mut measured = 0;
    let bars = daily
        .iter()
        .enumerate()
        .map(|(i, (start, c))| {
            let u = c.uptime();
            if let Some(u) = u {
                measured += 1;
                if u < 1.0 {
                    bad.push((u, *start));
                }
            }
            Bar {
                x: i as i64 * BAR_STEP,
                class: bar_class(u),
                label: format!("{}: {}", day(*start), uptime_words(*c)),
            }
        })
        .collect();
    let days = daily.len();
    let summary = if measured == 0 {
        format!("last {days} days: no data")
    } else if bad.is_empty() {
        format!(
            "last {days} days: {} measured, all fully up",
            plural(measured, "day")
        )
    } else {
        bad.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (worst, when) = bad[0];
        format!(
            "last {days} days: {} measured, {} with failures, lowest {} on {}",
            plural(measured, "day"),
            bad.len(),
            percent(Some(worst)),
            day(when)
        )
    };
    (bars, summary)
}

/// `1 day`, `2 days`.
fn plural(n: usize, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn uptime_words(c: Counts) -> String {
    match c.uptime() {
        None => "no data".to_owned(),
        Some(u) => format!(
            "{} up ({} probes, {} failed)",
            percent(Some(u)),
            c.probes,
            c.failures
        ),
    }
}

fn bar_class(uptime: Option<f64>) -> &'static str {
    match uptime {
        None => "b-none",
        Some(u) if u >= 1.0 => "b-full",
        Some(u) if u >= 0.99 => "b-high",
        Some(u) if u >= 0.95 => "b-mid",
        Some(_) => "b-low",
    }
}

/// A certificate's expiry as the service page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertExpiry {
    /// `expires in 40 days (2027-01-09)`, `expired 2 days ago (…)`.
    pub text: String,
    /// Within the warning period (or past).
    pub soon: bool,
}

/// Certificate expiry at `not_after_ms`, seen at `now_ms`, flagged when
/// within `warning_ms` (the service's `cert_expiry_warning`).
pub fn cert_expiry(not_after_ms: i64, now_ms: i64, warning_ms: i64) -> CertExpiry {
    let when = day(not_after_ms);
    let text = if not_after_ms < now_ms {
        // Whole days since it expired, 0 on the day itself.
        match (now_ms - not_after_ms).div_euclid(DAY_MS) {
            0 => format!("expired today ({when})"),
            1 => format!("expired 1 day ago ({when})"),
            ago => format!("expired {ago} days ago ({when})"),
        }
    } else {
        match cert::days_left(not_after_ms, now_ms) {
            0 => format!("expires today ({when})"),
            1 => format!("expires in 1 day ({when})"),
            d => format!("expires in {d} days ({when})"),
        }
    };
    let warning = std::time::Duration::from_millis(u64::try_from(warning_ms).unwrap_or(0));
    CertExpiry {
        text,
        soon: cert::expiring_soon(not_after_ms, now_ms, warning),
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path segment: percent-encoded like a query value.
pub fn path_segment(v: &str) -> String {
    query_value(v)
}

#[cfg(test)]
mod tests;
