//! Cron parsing, next occurrences, days + start, DST in Europe/Paris, and
//! errors that name the field.

use super::*;

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>()
        .expect("timestamp")
        .as_millisecond()
}

fn at(ms: i64) -> String {
    Timestamp::from_millisecond(ms).expect("ms").to_string()
}

fn schedule(cron: &str, tz: &str, minutes: u64) -> Schedule {
    Schedule {
        cron: Cron::parse(cron).expect("cron"),
        duration: Duration::from_secs(minutes * 60),
        tz: TimeZone::get(tz).expect("tz"),
    }
}

fn next(s: &Schedule, from: &str) -> String {
    at(s.next_start(ms(from)).expect("an occurrence"))
}

#[test]
fn cron_fields_parse_lists_ranges_steps_and_names() {
    let c = Cron::parse("*/15 2,4-6 1 jan-mar sun,sat").expect("cron");
    assert_eq!(c.minutes, BTreeSet::from([0, 15, 30, 45]));
    assert_eq!(c.hours, BTreeSet::from([2, 4, 5, 6]));
    assert_eq!(c.days, BTreeSet::from([1]));
    assert_eq!(c.months, BTreeSet::from([1, 2, 3]));
    assert_eq!(c.weekdays, BTreeSet::from([0, 6]));
    // 7 is Sunday too; a-b/n steps within the range.
    let c = Cron::parse("0 0-12/6 * * 7").expect("cron");
    assert_eq!(c.hours, BTreeSet::from([0, 6, 12]));
    assert_eq!(c.weekdays, BTreeSet::from([0]));
}

#[test]
fn next_occurrence_of_a_weekly_cron_in_utc() {
    // Sunday 2026-03-01 02:00 UTC.
    let s = schedule("0 2 * * sun", "UTC", 60);
    assert_eq!(next(&s, "2026-02-26T12:00:00Z"), "2026-03-01T02:00:00Z");
    assert_eq!(
        next(&s, "2026-03-01T02:00:00Z"),
        "2026-03-01T02:00:00Z",
        "at its start"
    );
    assert_eq!(next(&s, "2026-03-01T02:00:00.001Z"), "2026-03-08T02:00:00Z");
    // Both day fields restricted: either matches (cron's rule).
    let s = schedule("0 0 13 * fri", "UTC", 60);
    assert_eq!(
        next(&s, "2026-02-01T00:00:00Z"),
        "2026-02-06T00:00:00Z",
        "a Friday"
    );
    assert_eq!(next(&s, "2026-02-10T00:00:00Z"), "2026-02-13T00:00:00Z");
    // Leap day: years ahead.
    let s = schedule("0 0 29 feb *", "UTC", 60);
    assert_eq!(next(&s, "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
    assert_eq!(schedule("0 0 30 feb *", "UTC", 1).next_start(0), None);
}

#[test]
fn days_and_start_are_a_weekly_cron_in_their_time_zone() {
    let s = Schedule {
        cron: Cron::weekly(&["sat".into(), "sun".into()], "02:00").expect("weekly"),
        duration: Duration::from_secs(3600),
        tz: TimeZone::get("Europe/Paris").expect("tz"),
    };
    // Thursday 2026-01-15: Saturday 02:00 in Paris (UTC+1) is 01:00Z.
    assert_eq!(next(&s, "2026-01-15T00:00:00Z"), "2026-01-17T01:00:00Z");
    assert_eq!(next(&s, "2026-01-17T01:00:01Z"), "2026-01-18T01:00:00Z");
    // In summer (UTC+2).
    assert_eq!(next(&s, "2026-07-01T00:00:00Z"), "2026-07-04T00:00:00Z");
    assert_eq!(
        Cron::weekly(&["sat".into()], "02:00").expect("weekly"),
        Cron::parse("0 2 * * sat").expect("cron")
    );
}

#[test]
fn an_occurrence_in_the_spring_gap_starts_when_the_gap_ends() {
    // Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    let s = schedule("30 2 * * *", "Europe/Paris", 60);
    assert_eq!(next(&s, "2026-03-29T00:00:00Z"), "2026-03-29T01:00:00Z");
    assert_eq!(
        next(&s, "2026-03-30T00:00:00Z"),
        "2026-03-30T00:30:00Z",
        "the day after"
    );
}

#[test]
fn an_occurrence_in_the_autumn_fold_starts_at_the_first_instant() {
    // Paris, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 comes
    // twice (00:30Z and 01:30Z): the first, once.
    let s = schedule("30 2 * * *", "Europe/Paris", 30);
    assert_eq!(next(&s, "2026-10-25T00:00:00Z"), "2026-10-25T00:30:00Z");
    assert_eq!(
        next(&s, "2026-10-25T00:30:01Z"),
        "2026-10-26T01:30:00Z",
        "not again at 01:30Z"
    );
}

#[test]
fn the_running_occurrence_is_found_from_inside_it() {
    let s = schedule("0 2 * * *", "UTC", 120);
    assert_eq!(
        s.running_at(ms("2026-01-10T03:00:00Z")),
        Some((ms("2026-01-10T02:00:00Z"), ms("2026-01-10T04:00:00Z")))
    );
    assert_eq!(s.running_at(ms("2026-01-10T04:00:00Z")), None, "ended");
    assert_eq!(s.running_at(ms("2026-01-10T01:59:59Z")), None, "not yet");
}

#[test]
fn errors_name_the_field() {
    let err = |c: &str| Cron::parse(c).unwrap_err();
    assert!(
        err("0 2 * *").contains("has 4 fields"),
        "{}",
        err("0 2 * *")
    );
    let e = err("60 2 * * *");
    assert!(e.starts_with("cron minute field \"60\": "), "{e}");
    let e = err("0 24 * * *");
    assert!(e.starts_with("cron hour field \"24\": "), "{e}");
    let e = err("0 2 0 * *");
    assert!(e.starts_with("cron day-of-month field \"0\": "), "{e}");
    let e = err("0 2 * foo *");
    assert!(
        e.starts_with("cron month field \"foo\": ") && e.contains("jan..dec"),
        "{e}"
    );
    let e = err("0 2 * * mon-xyz");
    assert!(e.starts_with("cron day-of-week field \"mon-xyz\": "), "{e}");
    let e = err("*/0 2 * * *");
    assert!(e.contains("step \"0\""), "{e}");
    let e = err("0 5-2 * * *");
    assert!(e.contains("runs backwards"), "{e}");
    let e = Cron::weekly(&["funday".into()], "02:00").unwrap_err();
    assert!(e.starts_with("days: \"funday\""), "{e}");
    let e = Cron::weekly(&["sun".into()], "25:00").unwrap_err();
    assert!(e.starts_with("start \"25:00\""), "{e}");
}
