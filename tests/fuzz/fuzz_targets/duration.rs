//! Duration parsing as the config and `picketctl maintenance start --for`
//! read it (`config::parse_duration`; the CLI's copy makes the same
//! `humantime` call on the trimmed text). It must not panic, and what it
//! accepts must survive `format_duration` (whole milliseconds) unchanged.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use picket_collector::config::{format_duration, parse_duration};

fuzz_target!(|text: &str| {
    let Ok(d) = parse_duration(text) else {
        return;
    };
    let ms = Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let shown = format_duration(ms);
    assert_eq!(parse_duration(&shown), Ok(ms), "{text:?} → {shown:?}");
});
