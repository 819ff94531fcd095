//! `[[maintenance.windows]]`: recurring windows as validated, and the
//! `FILE:LINE: reason` of each bad one.

use super::*;
use crate::config::RecurringWindow;
use crate::domain::MaintenanceMode;

/// Lines 1–6; the first window's header is line 7, its keys from line 8.
const BASE: &str = "[collector]\ndatabase = \"sqlite://x.db\"\n[agents]\nenrollment_token = \"t\"\n[[equipment]]\nid = \"web-1\"\n";

fn with_window(keys: &str) -> Result<Vec<RecurringWindow>, String> {
    parse(
        Path::new("w.toml"),
        &format!("{BASE}[[maintenance.windows]]\n{keys}\n"),
    )
    .map(|c| c.maintenance.windows)
    .map_err(|e| e.to_string())
}

#[test]
fn windows_take_a_cron_or_days_and_start_with_defaults() {
    let w = with_window("equipment = \"web-1\"\ncron = \"0 2 * * sun\"\nduration = \"2h\"")
        .expect("valid");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].name, "cron 0 2 * * sun");
    assert_eq!(
        (w[0].mode, w[0].timezone.as_str()),
        (MaintenanceMode::Pause, "UTC")
    );
    assert_eq!(w[0].schedule.duration, Duration::from_secs(7200));
    let w = with_window(
        "name = \"weekend\"\nequipment = \"web-1\"\nmode = \"mute\"\ndays = [\"sat\", \"sun\"]\nstart = \"02:00\"\nduration = \"1h\"\ntimezone = \"Europe/Paris\"",
    )
    .expect("valid");
    assert_eq!(
        (w[0].name.as_str(), w[0].mode),
        ("weekend", MaintenanceMode::Mute)
    );
    assert_eq!(w[0].timezone, "Europe/Paris");
}

#[test]
fn bad_windows_are_refused_with_file_and_line() {
    let cases = [
        (
            "equipment = \"web-1\"\ncron = \"0 2 * * sun\"\nduration = \"1h\"\ntimezone = \"Mars/Olympus\"",
            "w.toml:11: timezone: \"Mars/Olympus\" is not a known IANA time zone",
        ),
        (
            "equipment = \"web-1\"\ncron = \"0 25 * * sun\"\nduration = \"1h\"",
            "w.toml:9: cron hour field \"25\": ",
        ),
        (
            "equipment = \"web-1\"\ncron = \"0 2 * * sun\"\ndays = [\"sat\"]\nstart = \"02:00\"\nduration = \"1h\"",
            "w.toml:9: give the schedule either as cron or as days + start, not both",
        ),
        (
            "equipment = \"web-1\"\ncron = \"0 2 * * sun\"\nduration = \"8d\"",
            "w.toml:10: duration: \"8d\" is out of range (1m to 7d)",
        ),
        (
            "equipment = \"web-1\"\ncron = \"0 2 * * sun\"\nduration = \"30s\"",
            "w.toml:10: duration: \"30s\" is out of range (1m to 7d)",
        ),
        (
            "equipment = \"db-9\"\ncron = \"0 2 * * sun\"\nduration = \"1h\"",
            "w.toml:8: equipment: \"db-9\" is not an equipment defined before",
        ),
        (
            "equipment = \"web-1\"\nmode = \"silent\"\ncron = \"0 2 * * sun\"\nduration = \"1h\"",
            "w.toml:9: mode: \"silent\" is not pause or mute",
        ),
        (
            "equipment = \"web-1\"\ndays = [\"sat\"]\nstart = \"2am\"\nduration = \"1h\"",
            "w.toml:9: start \"2am\" is not a time of day HH:MM",
        ),
        (
            "equipment = \"web-1\"\nduration = \"1h\"",
            "w.toml:8: a maintenance window needs a schedule",
        ),
    ];
    for (keys, expected) in cases {
        let err = with_window(keys).expect_err(keys);
        assert!(err.starts_with(expected), "{keys:?}: {err}");
    }
}

#[test]
fn two_windows_with_the_same_name_are_refused() {
    let one = "[[maintenance.windows]]\nequipment = \"web-1\"\ncron = \"0 2 * * sun\"\nduration = \"1h\"\n";
    let err = parse(Path::new("w.toml"), &format!("{BASE}{one}{one}"))
        .map(|_| ())
        .expect_err("twice");
    assert!(
        err.to_string()
            .contains("\"cron 0 2 * * sun\" is defined twice"),
        "{err}"
    );
}
