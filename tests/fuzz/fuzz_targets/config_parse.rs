//! The collector's config parser on arbitrary text: `config::parse` must
//! answer with a `Config` or a `ConfigError`, never panic, and an error's
//! line must lie inside the text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use picket_collector::config;

fuzz_target!(|text: &str| {
    if let Err(e) = config::parse(Path::new("fuzz.toml"), text) {
        if let Some(line) = e.line {
            assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{e}");
        }
    }
});
