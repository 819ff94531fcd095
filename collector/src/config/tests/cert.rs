//! `cert_expiry_warning`: the default, `[defaults]` and per-service values,
//! and the exact errors of bad ones.

use super::*;

const HEAD: &str = "[collector]\ndatabase = \"sqlite://x.db\"\n[agents]\nenrollment_token = \"t\"\n[[equipment]]\nid = \"e\"\n";
const DAY: u64 = 86_400;

/// Two services (`a` sets `own` itself, `b` does not) and `[defaults]`
/// `defaults`: `a`'s key is on line 11, the `[defaults]` key on line 17.
fn parse_with(own: &str, defaults: &str) -> Result<Config, String> {
    let text = format!(
        "{HEAD}[[services]]\nid = \"a\"\nequipment = \"e\"\nurl = \"https://a.test\"\n{own}\n\
         [[services]]\nid = \"b\"\nequipment = \"e\"\nurl = \"https://b.test\"\n\
         [defaults]\n{defaults}\n"
    );
    parse(Path::new("p.toml"), &text).map_err(|e| e.to_string())
}

fn warnings(own: &str, defaults: &str) -> (Duration, Duration) {
    let c = parse_with(own, defaults).expect("valid");
    (
        c.services[0].cert_expiry_warning,
        c.services[1].cert_expiry_warning,
    )
}

#[test]
fn cert_expiry_warning_defaults_to_14d_and_is_inherited_or_overridden() {
    let d = |days| Duration::from_secs(days * DAY);
    assert_eq!(warnings("", ""), (d(14), d(14)));
    assert_eq!(
        warnings("", "cert_expiry_warning = \"30d\""),
        (d(30), d(30))
    );
    assert_eq!(
        warnings(
            "cert_expiry_warning = \"7d\"",
            "cert_expiry_warning = \"30d\""
        ),
        (d(7), d(30))
    );
    assert_eq!(
        warnings(
            "cert_expiry_warning = \"1h\"",
            "cert_expiry_warning = \"365d\""
        ),
        (Duration::from_secs(3600), d(365))
    );
}

#[test]
fn bad_cert_expiry_warnings_name_their_line() {
    let check = |own: &str, defaults: &str, expected: &str| {
        assert_eq!(
            parse_with(own, defaults).err().as_deref(),
            Some(expected),
            "own {own:?}, defaults {defaults:?}"
        );
    };
    check(
        "cert_expiry_warning = \"0s\"",
        "",
        "p.toml:11: cert_expiry_warning: \"0s\" is out of range: it must be from 1h to 365d (default 14d)",
    );
    check(
        "",
        "cert_expiry_warning = \"400d\"",
        "p.toml:17: cert_expiry_warning: \"400d\" is out of range: it must be from 1h to 365d (default 14d)",
    );
    check(
        "cert_expiry_warning = \"10m\"",
        "",
        "p.toml:11: cert_expiry_warning: \"10m\" is out of range: it must be from 1h to 365d (default 14d)",
    );
    check(
        "cert_expiry_warning = \"two weeks\"",
        "",
        "p.toml:11: cert_expiry_warning: invalid duration \"two weeks\" (expected number at 0); write e.g. 1500ms, 2s, 10m, 4h, 1h30m",
    );
    check(
        "cert_expiry_warning = 14",
        "",
        "p.toml:11: invalid type: integer `14`, expected a string",
    );
}
