//! `[retention]`: defaults, values, and the exact errors of bad ones.

use super::*;

const BASE: &str =
    "[collector]\ndatabase = \"sqlite://x.db\"\n[agents]\nenrollment_token = \"t\"\n";

/// `[retention]` written after [`BASE`] (which is 4 lines: the section
/// header is line 5).
fn with_retention(keys: &str) -> Result<Config, String> {
    parse(Path::new("p.toml"), &format!("{BASE}[retention]\n{keys}\n")).map_err(|e| e.to_string())
}

const DAY: u64 = 24 * 3600;

#[test]
fn retention_defaults_to_7d_90d_400d() {
    let c = parse(Path::new("p.toml"), BASE).expect("no [retention]");
    assert_eq!(
        c.retention,
        RetentionSection {
            results: Duration::from_secs(7 * DAY),
            events: Duration::from_secs(90 * DAY),
            rollups: Duration::from_secs(400 * DAY),
        }
    );
    let empty = with_retention("").expect("empty [retention]");
    assert_eq!(empty.retention, c.retention);
}

#[test]
fn retention_keys_override_each_default() {
    let c = with_retention("results = \"36h\"\nevents = \"30d\"\nrollups = \"2h\"").expect("valid");
    assert_eq!(c.retention.results, Duration::from_secs(36 * 3600));
    assert_eq!(c.retention.events, Duration::from_secs(30 * DAY));
    assert_eq!(c.retention.rollups, Duration::from_secs(2 * 3600));
    let only = with_retention("events = \"1h\"").expect("valid");
    assert_eq!(
        only.retention.events, MIN_RETENTION,
        "the minimum is accepted"
    );
    assert_eq!(only.retention.results, Duration::from_secs(7 * DAY));
}

#[test]
fn bad_retention_names_line_and_reason() {
    for (keys, expected) in [
        (
            "results = \"0s\"",
            "p.toml:6: results: \"0s\" is too short: keep rows at least 1h (pruning runs every 10 minutes)",
        ),
        (
            "events = \"90d\"\nrollups = \"59m\"",
            "p.toml:7: rollups: \"59m\" is too short: keep rows at least 1h (pruning runs every 10 minutes)",
        ),
        (
            "events = \"ninety days\"",
            "p.toml:6: events: invalid duration \"ninety days\" (expected number at 0); write e.g. 1500ms, 2s, 10m, 4h, 1h30m",
        ),
        (
            "results = 7",
            "p.toml:6: invalid type: integer `7`, expected a string",
        ),
        (
            "raw = \"7d\"",
            "p.toml:6: unknown field `raw`, expected one of `results`, `events`, `rollups`",
        ),
    ] {
        assert_eq!(
            with_retention(keys).map(|_| ()),
            Err(expected.to_owned()),
            "{keys}"
        );
    }
}
