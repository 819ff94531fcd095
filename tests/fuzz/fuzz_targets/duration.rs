//! Duration parsing as the config and `picketctl maintenance start --for`
//! read it (`config::parse_duration`; the CLI's copy makes the same
//! `humantime` call on the trimmed text, under the same cap). It must not
//! panic, what it accepts is at most `MAX_DURATION`, and it survives
//! `format_duration` (whole milliseconds) unchanged.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use picket_collector::config::{MAX_DURATION, format_duration, parse_duration};

fuzz_target!(|text: &str| {
    let Ok(d) = parse_duration(text) else {
        return;
    };
    assert!(d <= MAX_DURATION, "{text:?}");
    let ms = Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let shown = format_duration(ms);
    assert_eq!(parse_duration(&shown), Ok(ms), "{text:?} → {shown:?}");
});
