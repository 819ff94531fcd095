//! A bad config is refused with exit code 2 and one stderr line
//! `FILE:LINE: reason` pointing at the offending line.

use picket_e2e::{Collector, line_of};

/// A valid config; each case breaks one line of it.
const VALID: &str = r#"[collector]
grpc_listen = "{grpc_listen}"
http_listen = "{http_listen}"
database = "{database}"
public_url = "{public_url}"
admin_token = "{admin_token}"

[agents]
enrollment_token = "{enrollment_token}"
auto_approve = true

[defaults]
interval = "1s"
timeout = "1s"
upgrade_to_https = false

[[equipment]]
id = "web-1"
name = "Web server 1"

[[services]]
id = "shop"
equipment = "web-1"
url = "http://127.0.0.1:9/"
"#;

/// Replaces the line of `VALID` containing `line` by `with`, runs the
/// collector on it and checks exit code 2 and a stderr line
/// `…picket.toml:LINE: …` for the replaced line that mentions `mention`
/// (in any case).
async fn check_refused(line: &str, with: &str, mention: &str) -> anyhow::Result<()> {
    assert!(VALID.contains(line), "{line:?} is not in the valid config");
    let template = VALID.replacen(line, with, 1);
    let refusal = Collector::refuses(&template).await?;
    let at = format!(
        "picket.toml:{}: ",
        line_of(&refusal.config_text, with.lines().last().unwrap_or(with))
    );
    assert_eq!(
        refusal.code,
        Some(2),
        "exit code for a bad config; stderr:\n{}",
        refusal.stderr
    );
    let reported = refusal.stderr.lines().find(|l| l.contains(&at));
    let Some(reported) = reported else {
        panic!(
            "no stderr line with {at:?} (config {}):\n{}\n--- config ---\n{}",
            refusal.config_path.display(),
            refusal.stderr,
            refusal.config_text
        );
    };
    assert!(
        reported.to_lowercase().contains(&mention.to_lowercase()),
        "the reason does not mention {mention:?}: {reported}"
    );
    Ok(())
}

/// The control: the config the cases break is itself accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_valid_config_is_accepted() -> anyhow::Result<()> {
    let mut c = Collector::start_toml(VALID).await?;
    assert!(c.is_running());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_refused_with_its_line() -> anyhow::Result<()> {
    check_refused("timeout = \"1s\"", "intervall = \"1s\"", "intervall").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_is_refused_with_its_line() -> anyhow::Result<()> {
    check_refused(
        "url = \"http://127.0.0.1:9/\"",
        "url = \"htp//no such url\"",
        "url",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_duration_is_refused_with_its_line() -> anyhow::Result<()> {
    check_refused("interval = \"1s\"", "interval = \"5 parsecs\"", "5 parsecs").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_equipment_is_refused_with_its_line() -> anyhow::Result<()> {
    check_refused("equipment = \"web-1\"", "equipment = \"nope\"", "nope").await
}

/// Off loopback the collector fails closed: no plaintext gRPC without
/// `allow_plaintext`, never without an admin token. It exits 2 naming the
/// key, before binding anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_without_tls_or_admin_token_is_refused() -> anyhow::Result<()> {
    let off_loopback = VALID.replace(
        "grpc_listen = \"{grpc_listen}\"",
        "grpc_listen = \"0.0.0.0:0\"",
    );
    let no_admin =
        off_loopback.replace("admin_token = \"{admin_token}\"", "allow_plaintext = true");
    for (template, expected) in [
        (
            off_loopback,
            "picket.toml: grpc_listen: 0.0.0.0:0 is not a loopback address and there is no tls_cert",
        ),
        (
            no_admin,
            "picket.toml: admin_token: is required when grpc_listen (0.0.0.0:0) is not a loopback address",
        ),
    ] {
        let refusal = Collector::refuses(&template).await?;
        assert_eq!(refusal.code, Some(2), "stderr:\n{}", refusal.stderr);
        assert!(
            refusal.stderr.lines().any(|l| l.contains(expected)),
            "no line with {expected:?}:\n{}",
            refusal.stderr
        );
    }
    Ok(())
}
