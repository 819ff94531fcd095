//! `include = ["services.d/*.toml"]`: which files hold more `[[equipment]]`
//! and `[[services]]`.
//!
//! A pattern is a path relative to the main file's directory (or absolute)
//! whose file name may hold `*` (any run of characters, `.` and nothing
//! included); its directory part may not. The directory must exist; a
//! pattern that matches no file in it is fine (an empty `services.d`).
//! Files come back pattern by pattern, each pattern's matches sorted by
//! name, a file matched twice listed once. Reading and checking what the
//! files hold is `super::parse`'s.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::raw::Sp;
use super::source::Source;

/// The files `patterns` name, in the order they are read.
pub(super) fn files(src: &Source, patterns: &[Sp<String>]) -> Result<Vec<PathBuf>, ConfigError> {
    let base = match src.file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        for file in matches(src, &base, pattern)? {
            if !out.contains(&file) {
                out.push(file);
            }
        }
    }
    Ok(out)
}

/// The files in the pattern's directory whose names match, sorted.
fn matches(src: &Source, base: &Path, pattern: &Sp<String>) -> Result<Vec<PathBuf>, ConfigError> {
    let text = pattern.get_ref();
    let path = base.join(text);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return src.err(
            &pattern.span(),
            format!("include {text:?}: name files like \"services.d/*.toml\""),
        );
    };
    if dir.to_string_lossy().contains('*') {
        return src.err(
            &pattern.span(),
            format!("include {text:?}: only the file name may hold '*'"),
        );
    }
    let entries = std::fs::read_dir(dir).or_else(|e| {
        src.err(
            &pattern.span(),
            format!("include {text:?}: cannot read {}: {e}", dir.display()),
        )
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.or_else(|e| {
            src.err(
                &pattern.span(),
                format!("include {text:?}: cannot read {}: {e}", dir.display()),
            )
        })?;
        let matched = entry.file_name().to_str().is_some_and(|n| glob(name, n));
        if matched && entry.file_type().is_ok_and(|t| !t.is_dir()) {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `name` matches `pattern`, in which `*` stands for any run of
/// characters (greedy with backtracking to the last `*`).
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn star_matches_any_run_and_literals_must_match() {
        assert!(glob("*.toml", "a.toml"));
        assert!(glob("*.toml", ".toml"));
        assert!(glob("s-*-x.toml", "s-1-2-x.toml"));
        assert!(glob("exact.toml", "exact.toml"));
        assert!(!glob("*.toml", "a.toml.bak"));
        assert!(!glob("*.toml", "a.yaml"));
        assert!(!glob("exact.toml", "exact.tom"));
    }
}
