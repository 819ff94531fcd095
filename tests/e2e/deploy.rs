//! What packaging relies on, over the real binaries: `--version` names the
//! version and the build, and `picket-collector healthcheck` (a container's
//! HEALTHCHECK) fails with its reason when nothing answers.

use std::process::Command;

#[test]
fn every_binary_prints_its_version_and_build() {
    for name in ["picket-agent", "picket-collector", "picketctl"] {
        let out = Command::new(picket_e2e::binary(name).unwrap())
            .arg("--version")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name} --version failed");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            text.trim(),
            format!("{name} {}", picket_proto::build::VERSION),
            "{name}"
        );
        assert!(text.contains(" (") && text.trim().ends_with(')'), "{text}");
    }
}

#[test]
fn the_healthcheck_fails_with_its_reason_when_nothing_listens() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    drop(listener);
    let out = Command::new(picket_e2e::binary("picket-collector").unwrap())
        .args(["healthcheck", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("healthcheck") && err.contains(&url), "{err}");
}
