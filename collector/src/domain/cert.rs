//! Certificate expiry warnings, decided purely: whether a certificate's
//! `notAfter` is within a service's `cert_expiry_warning` of now, how many
//! whole days are left, and when a sighting deserves a new
//! `service.cert_expiring` event (once per certificate, identified by its
//! `notAfter`).
//!
//! The evaluator asks [`should_forward`] for each stored result; the store
//! keeps which certificates were warned about, so that the event is written
//! once per (service, `notAfter`) even across agents and restarts. The
//! status page and `GetService` ask [`expiring_soon`] and [`days_left`].

use std::time::Duration;

/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Whether a certificate valid until `not_after_ms` expires within
/// `warning` of `now_ms`: true from exactly `warning` before its `notAfter`
/// on, and for a certificate already expired.
pub fn expiring_soon(not_after_ms: i64, now_ms: i64, warning: Duration) -> bool {
    let warning_ms = i64::try_from(warning.as_millis()).unwrap_or(i64::MAX);
    not_after_ms.saturating_sub(now_ms) <= warning_ms
}

/// Whole days from `now_ms` to `not_after_ms`, rounded down: 0 on its last
/// day, negative once expired (-1 on the first day after).
pub fn days_left(not_after_ms: i64, now_ms: i64) -> i64 {
    not_after_ms.saturating_sub(now_ms).div_euclid(DAY_MS)
}

/// The earliest of the certificate expiries the agents last reported for a
/// service (`None` when none reported one).
pub fn earliest(not_afters: impl IntoIterator<Item = Option<i64>>) -> Option<i64> {
    not_afters.into_iter().flatten().min()
}

/// When a service's certificate expires, if soon: the earliest of
/// `not_afters` (its agents' latest results), when [`expiring_soon`].
/// What `GetService` serves as `cert_expiring_at`, and what a page shows
/// as "expires in N days" (with [`days_left`]).
pub fn expiring_at(
    not_afters: impl IntoIterator<Item = Option<i64>>,
    now_ms: i64,
    warning: Duration,
) -> Option<i64> {
    earliest(not_afters).filter(|&t| expiring_soon(t, now_ms, warning))
}

/// How many recent certificates of one service the evaluator remembers as
/// forwarded (two agents behind a balancer may see two certificates).
pub const REMEMBERED: usize = 4;

/// Whether a result showing `not_after_ms` should go to the lifecycle as a
/// candidate warning: it expires soon and is none of the certificates
/// `forwarded` already for this service. (The store decides for good,
/// across agents and restarts; this keeps a warned certificate from
/// costing a write per probe.)
pub fn should_forward(
    forwarded: &[i64],
    not_after_ms: i64,
    now_ms: i64,
    warning: Duration,
) -> bool {
    expiring_soon(not_after_ms, now_ms, warning) && !forwarded.contains(&not_after_ms)
}

/// Remembers `not_after_ms` as forwarded, forgetting the oldest beyond
/// [`REMEMBERED`].
pub fn remember(forwarded: &mut Vec<i64>, not_after_ms: i64) {
    if forwarded.len() >= REMEMBERED {
        forwarded.remove(0);
    }
    forwarded.push(not_after_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;
    const FOURTEEN_DAYS: Duration = Duration::from_secs(14 * 86_400);

    #[test]
    fn expiring_soon_within_outside_edge_and_expired() {
        let check = |offset_ms: i64, expected: bool| {
            assert_eq!(
                expiring_soon(NOW + offset_ms, NOW, FOURTEEN_DAYS),
                expected,
                "notAfter = now + {offset_ms} ms"
            );
        };
        check(13 * DAY_MS, true);
        check(14 * DAY_MS, true); // exactly at the edge: within
        check(14 * DAY_MS + 1, false);
        check(90 * DAY_MS, false);
        check(0, true);
        check(-DAY_MS, true); // expired already
        check(i64::MAX / 2, false);
        assert!(expiring_soon(i64::MIN, NOW, FOURTEEN_DAYS));
    }

    #[test]
    fn days_left_round_down_and_go_negative() {
        let check = |offset_ms: i64, expected: i64| {
            assert_eq!(days_left(NOW + offset_ms, NOW), expected, "{offset_ms}");
        };
        check(14 * DAY_MS, 14);
        check(14 * DAY_MS - 1, 13);
        check(1, 0);
        check(0, 0);
        check(-1, -1);
        check(-DAY_MS, -1);
        check(-DAY_MS - 1, -2);
    }

    #[test]
    fn earliest_ignores_missing_expiries() {
        assert_eq!(earliest([None, Some(5), Some(3), None]), Some(3));
        assert_eq!(earliest([None, None]), None);
    }

    #[test]
    fn expiring_at_is_the_earliest_when_soon() {
        let soon = NOW + 2 * DAY_MS;
        let far = NOW + 40 * DAY_MS;
        assert_eq!(
            expiring_at([Some(far), Some(soon), None], NOW, FOURTEEN_DAYS),
            Some(soon)
        );
        assert_eq!(expiring_at([Some(far), None], NOW, FOURTEEN_DAYS), None);
        assert_eq!(expiring_at([None], NOW, FOURTEEN_DAYS), None);
    }

    #[test]
    fn forwards_each_expiring_certificate_once() {
        let soon = NOW + 3 * DAY_MS;
        let renewed_but_soon = NOW + 5 * DAY_MS;
        let far = NOW + 60 * DAY_MS;
        let mut forwarded = Vec::new();
        assert!(!should_forward(&forwarded, far, NOW, FOURTEEN_DAYS));
        assert!(should_forward(&forwarded, soon, NOW, FOURTEEN_DAYS));
        remember(&mut forwarded, soon);
        assert!(!should_forward(&forwarded, soon, NOW, FOURTEEN_DAYS));
        // A different certificate, also within the window: again.
        assert!(should_forward(
            &forwarded,
            renewed_but_soon,
            NOW,
            FOURTEEN_DAYS
        ));
        remember(&mut forwarded, renewed_but_soon);
        // Two agents alternating between both: neither again.
        assert!(!should_forward(&forwarded, soon, NOW, FOURTEEN_DAYS));
        assert!(!should_forward(
            &forwarded,
            renewed_but_soon,
            NOW,
            FOURTEEN_DAYS
        ));
        // The far one comes into the window as time passes.
        assert!(should_forward(
            &forwarded,
            far,
            far - 10 * DAY_MS,
            FOURTEEN_DAYS
        ));
    }

    #[test]
    fn remembers_the_latest_few() {
        let mut forwarded = Vec::new();
        for n in 0..10 {
            remember(&mut forwarded, n);
        }
        assert_eq!(forwarded, vec![6, 7, 8, 9]);
    }
}
