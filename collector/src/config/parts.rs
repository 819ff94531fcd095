//! The included files read, parsed and their services checked on several
//! threads, handed back one file at a time in the order they are read.
//!
//! At a million services the TOML parse and the per-service checks are
//! most of the start-up, and each file is parsed on its own: files go in
//! rounds of a few per thread, so at most a round's files are held at
//! once. What depends on the files before (ids unique across files, a
//! service's equipment defined earlier) stays with the caller, which
//! meets the files in order (`super::catalog`), so the first problem
//! reported is the one a reading file by file would find.

use std::path::PathBuf;

use super::ConfigError;
use super::raw::{RawCheckOptions, RawIncluded, RawService};
use super::services::{self, ServiceConfig};
use super::source::Source;
use super::{catalog, defaults, from_toml};

/// Files parsed per thread in one round.
const FILES_PER_THREAD: usize = 4;

/// One included file, read and parsed, its services checked on their own.
pub(super) struct Part {
    pub file: PathBuf,
    pub text: String,
    pub raw: RawIncluded,
    pub checked: Checked,
}

/// A file's services checked on their own (URL, options over
/// `[defaults]`), in order up to the first that failed.
pub(super) struct Checked {
    pub services: Vec<ServiceConfig>,
    /// Why the service after the last of `services` failed.
    pub failed: Option<ConfigError>,
}

/// Checks `services` of `src` on their own (see [`Checked`]).
pub(super) fn check(src: &Source, raw: &[RawService], defaults: &RawCheckOptions) -> Checked {
    let mut services = Vec::with_capacity(raw.len());
    for s in raw {
        let options = defaults::inherit(&s.options(), defaults);
        match services::service(src, s, &options) {
            Ok(service) => services.push(service),
            Err(e) => {
                return Checked {
                    services,
                    failed: Some(e),
                };
            }
        }
    }
    Checked {
        services,
        failed: None,
    }
}

/// Reads `files` on up to `threads` threads, calling `each` with every
/// file's [`Part`] in order; a file that cannot be read or parsed is its
/// error, in its place. Stops at the first error (`each`'s or a file's).
pub(super) fn read(
    files: &[PathBuf],
    defaults: &RawCheckOptions,
    threads: usize,
    mut each: impl FnMut(Part) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    let threads = threads.max(1);
    for round in files.chunks(threads * FILES_PER_THREAD) {
        let per_thread = round.len().div_ceil(threads);
        let parts: Vec<Vec<Result<Part, ConfigError>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = round
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || chunk.iter().map(|f| part(f, defaults)).collect()))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        for part in parts.into_iter().flatten() {
            each(part?)?;
        }
    }
    Ok(())
}

/// One file read, parsed and its services checked.
fn part(file: &PathBuf, defaults: &RawCheckOptions) -> Result<Part, ConfigError> {
    let text = catalog::read(file)?;
    let src = Source { file, text: &text };
    let raw: RawIncluded = from_toml(&src)?;
    let checked = check(&src, &raw.services, defaults);
    Ok(Part {
        file: file.clone(),
        text,
        raw,
        checked,
    })
}

/// How many threads read the included files: the cores, at most 8.
pub(super) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}
