//! `remind_every`: on a service, in `[defaults]` (also for agent
//! requests) and on a webhook; the exact errors of bad values.

use super::*;
use crate::reminders::RemindersSettings;

const HEAD: &str = "[collector]\ndatabase = \"sqlite://x.db\"\n[agents]\nenrollment_token = \"t\"\n[[equipment]]\nid = \"e\"\n";
const H: u64 = 3600;

/// Services `a` (with `own`, line 11) and `b`, `[defaults]` `defaults`
/// (line 17) and a webhook with `hook` (line 21).
fn parse_with(own: &str, defaults: &str, hook: &str) -> Result<Config, String> {
    let text = format!(
        "{HEAD}[[services]]\nid = \"a\"\nequipment = \"e\"\nurl = \"https://a.test\"\n{own}\n\
         [[services]]\nid = \"b\"\nequipment = \"e\"\nurl = \"https://b.test\"\n\
         [defaults]\n{defaults}\n\
         [[webhooks]]\nname = \"pager\"\nurl = \"http://127.0.0.1:9/\"\n{hook}\n"
    );
    parse(Path::new("p.toml"), &text).map_err(|e| e.to_string())
}

#[test]
fn remind_every_is_inherited_overridden_and_cut_for_the_actor() {
    let h = |n| Some(Duration::from_secs(n * H));
    let c = parse_with("", "", "").expect("valid");
    assert_eq!((c.services[0].remind_every, c.remind_every), (None, None));
    assert_eq!(
        RemindersSettings::from(&c).shortest(),
        None,
        "nothing reminded"
    );
    let c = parse_with(
        "remind_every = \"1h\"",
        "remind_every = \"4h\"",
        "remind_every = \"2h\"",
    )
    .expect("valid");
    assert_eq!(
        (c.services[0].remind_every, c.services[1].remind_every),
        (h(1), h(4))
    );
    assert_eq!(c.remind_every, h(4), "agent requests follow [defaults]");
    assert_eq!(c.webhooks[0].remind_every, h(2));
    let s = RemindersSettings::from(&c);
    assert_eq!(s.every(Some(&"a".into())), h(1));
    assert_eq!(s.every(Some(&"b".into())), h(4));
    assert_eq!(s.every(None), h(4));
    assert_eq!(s.services.len(), 1, "only the service that differs is kept");
    assert_eq!(
        s.webhooks,
        [("pager".to_owned(), Duration::from_secs(2 * H))]
    );
    assert_eq!(s.shortest(), h(1));
}

#[test]
fn bad_remind_every_values_name_their_line() {
    let check = |own: &str, defaults: &str, hook: &str, expected: &str| {
        assert_eq!(
            parse_with(own, defaults, hook).err().as_deref(),
            Some(expected)
        );
    };
    check(
        "remind_every = \"30s\"",
        "",
        "",
        "p.toml:11: remind_every: \"30s\" is too short: it must be at least 1m",
    );
    check(
        "",
        "remind_every = \"0s\"",
        "",
        "p.toml:17: remind_every: \"0s\" is too short: it must be at least 1m",
    );
    check(
        "",
        "",
        "remind_every = \"59s\"",
        "p.toml:21: remind_every: \"59s\" is too short: it must be at least 1m",
    );
    let bad = parse_with("remind_every = \"often\"", "", "").expect_err("refused");
    assert!(bad.starts_with("p.toml:11: remind_every: "), "{bad}");
}
