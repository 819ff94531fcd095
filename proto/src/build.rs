//! What a binary says about itself in `--version`: the workspace version and
//! the build (`commit 0123abcd…` in a release build, `commit unknown` when
//! it was built outside git, `dev` in a debug build; set by `build.rs`).

/// `0.1.0 (commit 0123456789ab)`: the version every binary prints.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PICKET_BUILD"), ")");

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_names_the_package_version_and_the_build() {
        assert!(super::VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(super::VERSION.ends_with(')'), "{}", super::VERSION);
        assert!(super::VERSION.contains(" (dev)") || super::VERSION.contains("commit "));
    }
}
