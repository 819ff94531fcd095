//! State words and colours, uptime text and thresholds, and periods.

use super::*;
use crate::domain::rollup::Period;

#[test]
fn states_read_in_words_with_conventional_colours() {
    let table = [
        (ServiceState::Up, "up", "#4c1"),
        (ServiceState::Down, "down", "#e05d44"),
        (ServiceState::Suspect, "suspect", "#fe7d37"),
        (ServiceState::Maintenance, "maintenance", "#007ec6"),
        (ServiceState::Unknown, "unknown", "#9f9f9f"),
        (ServiceState::Paused, "paused", "#9f9f9f"),
    ];
    for (state, word, colour) in table {
        assert_eq!(state_badge(state), (word, colour), "{state}");
    }
}

#[test]
fn uptime_rounds_down_and_takes_its_threshold_colour() {
    let check = |u: Option<f64>, text: &str, colour: &str| {
        assert_eq!(uptime_badge(u), (text.to_owned(), colour), "{u:?}");
    };
    check(Some(1.0), "100%", "#4c1");
    check(Some(0.99999), "99.99%", "#4c1");
    check(Some(0.999), "99.9%", "#4c1");
    check(Some(0.9989), "99.89%", "#97ca00");
    check(Some(0.99), "99%", "#97ca00");
    check(Some(0.95), "95%", "#dfb317");
    check(Some(0.9), "90%", "#fe7d37");
    check(Some(2.0 / 3.0), "66.66%", "#e05d44");
    check(Some(0.0), "0%", "#e05d44");
    check(None, "no data", "#9f9f9f");
}

#[test]
fn periods_are_24h_7d_30d_and_nothing_else() {
    assert_eq!(Window::parse("24h"), Ok(Window::Day));
    assert_eq!(Window::parse("7d"), Ok(Window::Week));
    assert_eq!(Window::parse("30d"), Ok(Window::Month));
    assert_eq!(
        Window::parse("1y"),
        Err("period: \"1y\" is not one of 24h, 7d, 30d (default 30d)\n".to_owned())
    );
    assert!(Window::parse("").is_err());
}

/// The rows cover the current partial hour (day) and the ones before it,
/// as `Store::history` counts them.
#[test]
fn windows_read_hourly_or_daily_rows_up_to_now() {
    let hour = Period::Hour.millis();
    let day = Period::Day.millis();
    let now = 1_767_225_600_000 + 5 * hour + 1234; // 05:00:01.234 UTC
    let this_hour = now - 1234;
    assert_eq!(
        Window::Day.rows(now),
        (Period::Hour, this_hour - 23 * hour, this_hour + hour)
    );
    assert_eq!(
        Window::Week.rows(now),
        (Period::Hour, this_hour - 167 * hour, this_hour + hour)
    );
    let today = 1_767_225_600_000;
    assert_eq!(
        Window::Month.rows(now),
        (Period::Day, today - 29 * day, today + day)
    );
}
