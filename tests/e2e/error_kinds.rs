//! Each probe error kind travels agent → collector → picketctl and request
//! description: `http_status`, `timeout`, `connect`, `tls`, `dns`.

use picket_e2e::target::{ClosedPort, Target, TestCa, TlsMode};

use crate::common::{
    SERVICE, assert_open_http_ko, assert_starts_with, is_down_with_request, one_service,
    open_request, start,
};

/// Runs one service on `url` until it is down, then checks the error kind on
/// the service and the label at the start of `last_error` and of the
/// request's description.
async fn check_kind(
    url: &str,
    agent_flags: &[&str],
    kind: &str,
    label: &str,
) -> anyhow::Result<()> {
    let (c, _agent) = start(one_service(url), agent_flags).await?;
    let service = c
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    assert_eq!(service["ok"], false, "{service}");
    assert_eq!(service["last_error_kind"], kind, "{service}");
    assert_starts_with(&service["last_error"], label, "last_error", &service);
    if kind != "http_status" {
        assert!(
            service["last_status_code"].is_null(),
            "a status code without an answer: {service}"
        );
    }
    let request = c.request(open_request(&service)).await?;
    assert_open_http_ko(&request, url, label);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_is_http_status() -> anyhow::Result<()> {
    let target = Target::http().await;
    target.set_status(500);
    check_kind(&target.url(), &[], "http_status", "HTTP 500").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_server_is_a_timeout() -> anyhow::Result<()> {
    let target = Target::http().await;
    target.set_hang(true);
    check_kind(&target.url(), &[], "timeout", "timeout after 1s").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_connect() -> anyhow::Result<()> {
    let closed = ClosedPort::new();
    check_kind(&closed.url(), &[], "connect", "connect: connection refused").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_host_is_dns() -> anyhow::Result<()> {
    check_kind("http://nothing.invalid", &[], "dns", "dns: no such host").await
}

/// The agent trusts the test CA (`--ca-cert`), so only the expiry is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_tls() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = TestCa::new();
    let pem = ca.write_pem(dir.path());
    let target = Target::https(&ca, TlsMode::Expired).await;
    let pem = pem.to_str().expect("UTF-8 temp path");
    check_kind(
        &target.url(),
        &["--ca-cert", pem],
        "tls",
        "tls: certificate expired",
    )
    .await
}

/// A certificate for another host, from a trusted CA: `tls` as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_is_tls() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = TestCa::new();
    let pem = ca.write_pem(dir.path());
    let target = Target::https(&ca, TlsMode::WrongHost).await;
    let pem = pem.to_str().expect("UTF-8 temp path");
    check_kind(&target.url(), &["--ca-cert", pem], "tls", "tls: ").await
}

/// The control for the TLS cases: a valid certificate from the CA given
/// with `--ca-cert` is trusted, so the service is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_certificate_from_the_given_ca_is_up() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = TestCa::new();
    let pem = ca.write_pem(dir.path());
    let target = Target::https(&ca, TlsMode::Valid).await;
    let pem = pem.to_str().expect("UTF-8 temp path");
    let (c, _agent) = start(one_service(&target.url()), &["--ca-cert", pem]).await?;
    let service = c.wait_state(SERVICE, "up").await?;
    assert_eq!(service["ok"], true, "{service}");
    assert_eq!(service["last_status_code"], 200, "{service}");
    assert!(service["last_error_kind"].is_null(), "{service}");
    assert!(target.hits() >= 1);
    // `service ID` shows the agent's latest result with what it measured:
    // connect, TLS handshake and processing (no DNS for an IP literal) and
    // the chain's earliest expiry (rcgen's default notAfter), through the
    // real agent, collector and picketctl.
    let shown = c.service(SERVICE).await?;
    let latest = &shown["latest"][0];
    assert_eq!(latest["ok"], true, "{shown}");
    assert_eq!(
        latest["cert_expires_at"], "4096-01-01T00:00:00.000Z",
        "{shown}"
    );
    assert!(latest["dns_ms"].is_null(), "an IP literal: {shown}");
    let total = latest["latency_ms"].as_f64().expect("latency");
    for phase in ["connect_ms", "tls_ms", "processing_ms"] {
        let ms = latest[phase].as_f64().unwrap_or(0.0);
        assert!(ms > 0.0 && ms <= total, "{phase}: {shown}");
    }
    Ok(())
}
