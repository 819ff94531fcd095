//! When a failed delivery is tried again: the exponential backoff with
//! jitter of `retry_initial` / `retry_max_interval`, bounded by
//! `retry_for`, and the receiver's `Retry-After` (RFC 9110 §10.2.3) on 429
//! and 503 answers. Pure functions of the webhook's settings, the row's
//! attempts and the time; the worker stores what they return.
//!
//! `Retry-After` is a lower bound: the next attempt is never before it,
//! and never earlier than the backoff would have it either. A value longer
//! than `retry_max_interval` (default 1 h) is capped to it: the operator's
//! own limit on how long a receiver goes without an attempt wins over an
//! absurd answer (`Retry-After: 31536000`). When the honoured time falls
//! after `retry_for` from the first attempt, the delivery is given up, as
//! it is when the backoff runs past `retry_for`.

use std::time::{Duration, UNIX_EPOCH};

use crate::config::WebhookConfig;

/// The wait a `Retry-After` value asks for, from `now_ms`: delta-seconds
/// (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`, and the two
/// obsolete forms RFC 9110 still asks recipients to read). A date in the
/// past asks for no wait. `None` for anything else (then the backoff alone
/// applies).
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms).unwrap_or(0));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// When to try again after `attempts` failed attempts (before this one),
/// not before `retry_after` from `now_ms` (capped at
/// `retry_max_interval`); `None` once that is past `retry_for` since the
/// first attempt.
pub fn next_attempt(
    w: &WebhookConfig,
    attempts: i64,
    first_attempt_ms: i64,
    now_ms: i64,
    retry_after: Option<Duration>,
) -> Option<i64> {
    let exp = 2u32.saturating_pow(attempts.clamp(0, 30) as u32);
    let base = w
        .retry_initial
        .saturating_mul(exp)
        .min(w.retry_max_interval);
    let jitter = rand::random_range(0.8..1.2);
    let mut at = now_ms + base.mul_f64(jitter).as_millis() as i64;
    if let Some(wait) = retry_after {
        at = at.max(now_ms + wait.min(w.retry_max_interval).as_millis() as i64);
    }
    (at - first_attempt_ms <= w.retry_for.as_millis() as i64).then_some(at)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn system_time(ms: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    }

    /// 2026-01-01T00:00:00Z.
    const NOW: i64 = 1_767_225_600_000;

    fn webhook() -> WebhookConfig {
        WebhookConfig {
            name: "ops".into(),
            url: "http://127.0.0.1:1/".into(),
            events: vec![],
            basic_auth: None,
            secret: None,
            timeout: Duration::from_secs(15),
            retry_initial: Duration::from_secs(5),
            retry_max_interval: Duration::from_secs(3600),
            retry_for: Duration::from_secs(24 * 3600),
            remind_every: None,
        }
    }

    #[test]
    fn retry_after_values() {
        let secs = |s| Some(Duration::from_secs(s));
        let date = |ms| httpdate::fmt_http_date(system_time(ms));
        let table: Vec<(String, Option<Duration>)> = vec![
            ("120".into(), secs(120)),
            (" 7 ".into(), secs(7)),
            ("0".into(), secs(0)),
            ("99999999999999999999999".into(), secs(u64::MAX)),
            (date(NOW + 300_000), secs(300)),
            (date(NOW - 300_000), secs(0)),
            ("Thu, 01 Jan 2026 00:01:00 GMT".into(), secs(60)),
            // RFC 850 and asctime, which recipients must still read.
            ("Thursday, 01-Jan-26 00:02:00 GMT".into(), secs(120)),
            ("Thu Jan  1 00:03:00 2026".into(), secs(180)),
            ("".into(), None),
            ("-5".into(), None),
            ("1.5".into(), None),
            ("soon".into(), None),
            ("Thu, 01 Jan 2026 25:00:00 GMT".into(), None),
        ];
        for (value, expected) in table {
            assert_eq!(parse_retry_after(&value, NOW), expected, "{value:?}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_caps_and_gives_up() {
        let w = webhook();
        for (attempts, base_ms) in [
            (0i64, 5_000i64),
            (1, 10_000),
            (2, 20_000),
            (10, 3_600_000),
            (40, 3_600_000),
        ] {
            let at = next_attempt(&w, attempts, 0, 0, None).expect("within retry_for");
            assert!(
                (base_ms * 8 / 10..=base_ms * 12 / 10).contains(&at),
                "attempt {attempts}: {at} vs {base_ms}"
            );
        }
        let day = 24 * 3600 * 1000;
        assert_eq!(next_attempt(&w, 3, 0, day, None), None, "past retry_for");
    }

    /// (retry_after, expected delay range in ms): a lower bound over the
    /// backoff's 4–6 s, capped at retry_max_interval (1 h).
    #[test]
    fn retry_after_is_a_lower_bound_capped_at_the_max_interval() {
        let w = webhook();
        let hour = 3_600_000;
        for (retry_after, low, high) in [
            (None, 4_000, 6_000),
            (Some(1), 4_000, 6_000),
            (Some(120), 120_000, 120_000),
            (Some(3_600), hour, hour),
            (Some(31_536_000), hour, hour),
            (Some(u64::MAX), hour, hour),
        ] {
            let wait = retry_after.map(Duration::from_secs);
            let at = next_attempt(&w, 0, NOW, NOW, wait).expect("within retry_for");
            assert!(
                (NOW + low..=NOW + high).contains(&at),
                "Retry-After {retry_after:?}: in {} ms",
                at - NOW
            );
        }
    }

    #[test]
    fn a_retry_after_beyond_retry_for_gives_up() {
        let w = WebhookConfig {
            retry_for: Duration::from_secs(600),
            ..webhook()
        };
        let wait = Some(Duration::from_secs(900));
        assert_eq!(next_attempt(&w, 0, NOW, NOW, wait), None);
        // Within retry_for it is honoured to the millisecond.
        let wait = Some(Duration::from_secs(500));
        assert_eq!(next_attempt(&w, 0, NOW, NOW, wait), Some(NOW + 500_000));
    }
}
