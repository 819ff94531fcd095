//! The view-model functions, table-tested.

use super::*;

/// 2026-11-30T00:00:00Z.
const NOW: i64 = 1_795_996_800_000;

#[test]
fn percentages_never_round_a_failure_up_to_100() {
    let check = |u: Option<f64>, expected: &str| assert_eq!(percent(u), expected, "{u:?}");
    check(None, "no data");
    check(Some(1.0), "100%");
    check(Some(0.99999), "99.99%");
    check(Some(0.5), "50.00%");
    check(Some(0.0), "0.00%");
}

#[test]
fn durations_spans_and_times_read_as_words() {
    let check = |got: String, expected: &str| assert_eq!(got, expected);
    check(micros(850), "850 µs");
    check(micros(12_345), "12.3 ms");
    check(micros(250_000), "250 ms");
    check(micros(12_500_000), "12.50 s");
    check(phase(None), "—");
    check(span(45_000), "45 s");
    check(span(12 * 60_000 + 5_000), "12 min");
    check(span(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
    check(span(2 * DAY_MS + 4 * 3_600_000), "2 d 4 h");
    check(time(NOW + 3_723_456), "2026-11-30 01:02:03 UTC");
    check(day(NOW + 5), "2026-11-30");
}

#[test]
fn states_have_a_word_and_a_distinct_class() {
    let mut classes = std::collections::HashSet::new();
    for s in ServiceState::ALL {
        let v = state(*s);
        assert!(classes.insert(v.class), "{s} shares its class");
        assert!(v.word.eq_ignore_ascii_case(s.as_str()), "{s}: {}", v.word);
    }
}

#[test]
fn certificate_expiry_is_flagged_within_the_warning_period() {
    let check = |days_left: f64, warning_days: i64, text: &str, soon: bool| {
        let not_after = NOW + (days_left * DAY_MS as f64) as i64;
        let got = cert_expiry(not_after, NOW, warning_days * DAY_MS);
        assert_eq!(
            (got.text.as_str(), got.soon),
            (text, soon),
            "{days_left} d, warning {warning_days} d"
        );
    };
    check(40.0, 14, "expires in 40 days (2027-01-09)", false);
    check(14.5, 14, "expires in 14 days (2026-12-14)", false);
    check(14.0, 14, "expires in 14 days (2026-12-14)", true);
    check(13.9, 14, "expires in 13 days (2026-12-13)", true);
    check(13.9, 7, "expires in 13 days (2026-12-13)", false);
    check(1.5, 14, "expires in 1 day (2026-12-01)", true);
    check(0.5, 14, "expires today (2026-11-30)", true);
    check(-0.5, 14, "expired today (2026-11-29)", true);
    check(-3.5, 14, "expired 3 days ago (2026-11-26)", true);
}

#[test]
fn bars_colour_each_day_and_summarise_in_words() {
    let c = |probes, failures| Counts { probes, failures };
    let daily = vec![
        (NOW - 3 * DAY_MS, c(0, 0)),
        (NOW - 2 * DAY_MS, c(100, 0)),
        (NOW - DAY_MS, c(100, 10)),
        (NOW, c(1000, 5)),
    ];
    let (bars, summary) = bars(&daily);
    let classes: Vec<_> = bars.iter().map(|b| b.class).collect();
    assert_eq!(classes, ["b-none", "b-full", "b-low", "b-high"]);
    assert_eq!(bars[3].x, 3 * BAR_STEP);
    assert_eq!(
        bars[2].label,
        "2026-11-29: 90.00% up (100 probes, 10 failed)"
    );
    assert_eq!(bars[0].label, "2026-11-27: no data");
    assert_eq!(
        summary,
        "last 4 days: 3 days measured, 2 with failures, lowest 90.00% on 2026-11-29"
    );
    let (_, summary) = super::bars(&[(NOW, c(5, 0))]);
    assert_eq!(summary, "last 1 days: 1 day measured, all fully up");
}

#[test]
fn query_values_are_percent_encoded() {
    assert_eq!(query_value("web-1"), "web-1");
    assert_eq!(query_value("a b&c=<d>"), "a%20b%26c%3D%3Cd%3E");
    assert_eq!(query_value("é"), "%C3%A9");
}
