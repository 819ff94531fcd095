//! Generates the gRPC code from `picket/**/*.proto` without a system protoc:
//! protox parses, tonic-prost-build generates client and server, and the
//! encoded descriptor set is kept for server reflection. It also names the
//! build (`PICKET_BUILD`, see `src/build.rs`): the git commit in release
//! builds, `dev` otherwise (so that a commit does not rebuild every crate in
//! a debug build).

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &["picket/agent/v1/agent_link.proto", "picket/v1/picket.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    build_info();
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("picket_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // `AgentLink/Connect` would clash with the generated `connect` constructor:
        // clients are built with `new(channel)` instead.
        .build_transport(false)
        .compile_fds(fds)?;
    Ok(())
}

/// Sets `PICKET_BUILD`: in a release build the commit from `git rev-parse`
/// (re-run when HEAD or its branch moves), "unknown" without git; `dev` in
/// other profiles.
fn build_info() {
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if !release {
        println!("cargo:rustc-env=PICKET_BUILD=dev");
        return;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    if let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--git-dir"]),
        git(&["rev-parse", "--git-common-dir"]),
    ) {
        let mut watched = vec![format!("{dir}/HEAD"), format!("{common}/packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(format!("{common}/{branch}"));
        }
        for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = commit.unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PICKET_BUILD=commit {commit}");
}
