//! `[defaults]` and the check options every service inherits from it.
//!
//! Inheritance is one rule, [`inherit`]: a service's own key wins, else the
//! `[defaults]` key, else the built-in default. The merged options are
//! checked per service by [`validate`] into [`CheckOptions`], so a bad
//! `[defaults]` value is reported at its own line when the first service
//! inherits it (and not at all when every service sets that key itself).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use super::ConfigError;
use super::raw::{RawCheckOptions, RawQuorum, Sp};
use super::source::Source;
use crate::domain::Quorum;
use crate::domain::texts::DEFAULT_PRIORITY;
use crate::redact::debug_redacted;

/// One service's check options, every key resolved and checked.
#[derive(Clone, PartialEq)]
pub struct CheckOptions {
    pub interval: Duration,
    pub timeout: Duration,
    pub recheck_delay: Duration,
    pub recheck_timeout: Duration,
    pub quorum: Quorum,
    pub failures_before_down: u32,
    /// Probe `http://` URLs as `https://`.
    pub upgrade_to_https: bool,
    pub expected_status: Vec<u16>,
    /// `GET` or `HEAD`.
    pub method: String,
    /// Appended to the service's URL path.
    pub path: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub basic_auth: Option<(String, String)>,
    pub body_contains: Option<String>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub max_body_bytes: u64,
    pub reuse_connections: bool,
    /// Regions whose agents probe it; empty means all.
    pub regions: Vec<String>,
    /// `"0"`–`"3"`.
    pub priority: String,
    /// `service.cert_expiring` fires when the earliest certificate expires
    /// within this.
    pub cert_expiry_warning: Duration,
    /// Rounds one agent fails below the quorum before the service is
    /// `degraded`.
    pub degraded_after: u32,
    /// `request.reminder` for its open, unacknowledged request this often.
    pub remind_every: Option<Duration>,
}
debug_redacted!(CheckOptions {
    interval, timeout, recheck_delay, recheck_timeout, quorum, failures_before_down, upgrade_to_https, expected_status, method, path, body_contains, follow_redirects, max_redirects, max_body_bytes, reuse_connections, regions, priority, cert_expiry_warning, degraded_after, remind_every
} secret { headers, basic_auth });

/// The options a service runs with: its own keys over `[defaults]`.
pub(super) fn inherit(own: &RawCheckOptions, defaults: &RawCheckOptions) -> RawCheckOptions {
    own.or(defaults)
}

/// Checks merged options. `at` (the service's id) locates a problem with
/// a built-in default.
pub(super) fn validate(
    src: &Source,
    o: &RawCheckOptions,
    at: &Range<usize>,
) -> Result<CheckOptions, ConfigError> {
    let dur = |key, v: &Option<Sp<String>>, default| src.opt_duration(key, v.as_ref(), default);
    let span_or_at = |v: &Option<Sp<String>>| v.as_ref().map_or_else(|| at.clone(), Sp::span);
    let interval = dur("interval", &o.interval, Duration::from_secs(60))?;
    if interval < Duration::from_secs(1) {
        return src.err(&span_or_at(&o.interval), "interval: must be at least 1s");
    }
    let timeout = dur("timeout", &o.timeout, Duration::from_secs(10))?;
    if timeout.is_zero() {
        return src.err(&span_or_at(&o.timeout), "timeout: must be more than 0s");
    }
    let recheck_delay = dur("recheck_delay", &o.recheck_delay, Duration::from_secs(2))?;
    let recheck_timeout = dur(
        "recheck_timeout",
        &o.recheck_timeout,
        timeout + Duration::from_secs(2),
    )?;
    let quorum = match &o.quorum {
        None => Quorum::Majority,
        Some(q) => q
            .get_ref()
            .text()
            .parse()
            .or_else(|e: String| src.err(&q.span(), e))?,
    };
    let failures_before_down = match &o.failures_before_down {
        Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
        Some(n) => return src.err(&n.span(), "failures_before_down: must be at least 1"),
        None => 1,
    };
    let degraded_after = match &o.degraded_after {
        Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
        Some(n) => return src.err(&n.span(), "degraded_after: must be at least 1"),
        None => 3,
    };
    let upgrade_to_https = o.upgrade_to_https.as_ref().is_none_or(|v| *v.get_ref());
    let expected_status = expected_status(src, o.expected_status.as_ref())?;
    let method = method(src, o.method.as_ref())?;
    let priority = priority(src, o.priority.as_ref())?;
    let max_redirects = o.max_redirects.as_ref().map_or(10, |n| *n.get_ref());
    let max_body_bytes = match &o.max_body {
        None => 1 << 20,
        Some(v) => {
            parse_size(v.get_ref()).or_else(|e| src.err(&v.span(), format!("max_body: {e}")))?
        }
    };
    let cert_expiry_warning = cert_expiry_warning(src, o.cert_expiry_warning.as_ref())?;
    let remind_every = remind_every(src, o.remind_every.as_ref())?;
    Ok(CheckOptions {
        interval,
        timeout,
        recheck_delay,
        recheck_timeout,
        quorum,
        failures_before_down,
        upgrade_to_https,
        expected_status,
        method,
        path: o.path.as_ref().map(|p| p.get_ref().clone()),
        headers: o.headers.clone().unwrap_or_default(),
        basic_auth: o
            .basic_auth
            .as_ref()
            .map(|b| (b.user.clone(), b.password.clone())),
        body_contains: o.body_contains.clone().filter(|b| !b.is_empty()),
        follow_redirects: o.follow_redirects.is_none_or(|v| v),
        max_redirects,
        max_body_bytes,
        reuse_connections: o.reuse_connections.is_some_and(|v| v),
        regions: o.regions.clone().unwrap_or_default(),
        priority,
        cert_expiry_warning,
        degraded_after,
        remind_every,
    })
}

/// The shortest `remind_every`.
pub const MIN_REMIND_EVERY: Duration = Duration::from_secs(60);

/// `remind_every` (on a service, in `[defaults]` or on a webhook): at
/// least [`MIN_REMIND_EVERY`]; `None` when unset (no reminders).
pub(super) fn remind_every(
    src: &Source,
    v: Option<&Sp<String>>,
) -> Result<Option<Duration>, ConfigError> {
    let Some(v) = v else {
        return Ok(None);
    };
    let every = src.duration("remind_every", v)?;
    if every < MIN_REMIND_EVERY {
        return src.err(
            &v.span(),
            format!(
                "remind_every: {:?} is too short: it must be at least 1m",
                v.get_ref()
            ),
        );
    }
    Ok(Some(every))
}

/// The built-in `cert_expiry_warning`.
pub const CERT_EXPIRY_WARNING: Duration = Duration::from_secs(14 * 86_400);

/// `cert_expiry_warning`: from 1h to 365d ([`CERT_EXPIRY_WARNING`] when
/// unset). Zero would never warn; a year or more would warn about every
/// certificate (none is issued for longer than 398 days).
fn cert_expiry_warning(src: &Source, v: Option<&Sp<String>>) -> Result<Duration, ConfigError> {
    let Some(v) = v else {
        return Ok(CERT_EXPIRY_WARNING);
    };
    let warning = src.duration("cert_expiry_warning", v)?;
    let (min, max) = (Duration::from_secs(3600), Duration::from_secs(365 * 86_400));
    if warning < min || warning > max {
        return src.err(
            &v.span(),
            format!(
                "cert_expiry_warning: {:?} is out of range: it must be from 1h to 365d (default 14d)",
                v.get_ref()
            ),
        );
    }
    Ok(warning)
}

/// At least one status, each an HTTP status; `[200]` when unset.
fn expected_status(src: &Source, v: Option<&Sp<Vec<u16>>>) -> Result<Vec<u16>, ConfigError> {
    let Some(list) = v else {
        return Ok(vec![200]);
    };
    if list.get_ref().is_empty() {
        return src.err(
            &list.span(),
            "expected_status: must list at least one status",
        );
    }
    if let Some(code) = list.get_ref().iter().find(|c| !(100..=599).contains(*c)) {
        return src.err(
            &list.span(),
            format!("expected_status: {code} is not an HTTP status"),
        );
    }
    Ok(list.get_ref().clone())
}

/// `GET` (the default) or `HEAD`, in any case.
fn method(src: &Source, v: Option<&Sp<String>>) -> Result<String, ConfigError> {
    let Some(m) = v else {
        return Ok("GET".to_owned());
    };
    match m.get_ref().to_ascii_uppercase().as_str() {
        "GET" => Ok("GET".to_owned()),
        "HEAD" => Ok("HEAD".to_owned()),
        other => src.err(&m.span(), format!("method: {other:?} is not GET or HEAD")),
    }
}

/// `"0"` to `"3"`, as a string or a number; [`DEFAULT_PRIORITY`] when unset.
pub(super) fn priority(src: &Source, v: Option<&Sp<RawQuorum>>) -> Result<String, ConfigError> {
    let Some(p) = v else {
        return Ok(DEFAULT_PRIORITY.to_owned());
    };
    let text = p.get_ref().text();
    if !["0", "1", "2", "3"].contains(&text.as_str()) {
        return src.err(
            &p.span(),
            format!("priority: {text:?} is not \"0\" to \"3\""),
        );
    }
    Ok(text)
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
