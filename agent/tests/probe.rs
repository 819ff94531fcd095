//! Probes against real loopback targets: outcomes, error kinds and details.

#![allow(clippy::unwrap_used)] // test fixtures: a failed setup should panic

use std::net::IpAddr;
use std::time::Duration;

use picket_agent::domain::{Check, ErrorKind, Method, ProbeReport};
use picket_agent::probe::{ClientOptions, Clients, probe};
use picket_e2e::target::{ClosedPort, Target, TestCa, TlsMode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

fn check(url: &str) -> Check {
    Check {
        id: "svc".into(),
        url: url.into(),
        method: Method::Get,
        headers: Default::default(),
        basic_auth: None,
        expected_status: vec![200],
        body_contains: String::new(),
        follow_redirects: true,
        max_redirects: 10,
        timeout: Duration::from_secs(5),
        interval: Duration::from_secs(60),
        max_body_bytes: 1024 * 1024,
        reuse_connections: false,
    }
}

fn clients() -> Clients {
    Clients::new(ClientOptions::default()).unwrap()
}

fn clients_trusting(ca: &TestCa) -> Clients {
    let root = CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap();
    Clients::new(ClientOptions {
        source_address: None,
        extra_roots: vec![root],
    })
    .unwrap()
}

#[track_caller]
fn assert_failed(report: &ProbeReport, kind: ErrorKind, detail: &str) {
    let failure = report
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("expected {kind} failure, probe succeeded: {report:?}"));
    assert_eq!(
        (failure.kind, failure.detail.as_str()),
        (kind, detail),
        "{report:?}"
    );
}

#[tokio::test]
async fn ok_and_http_status() {
    let target = Target::http().await;
    let clients = clients();
    let report = probe(&check(&target.url()), &clients).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.status_code, 200);
    assert_eq!(report.check_id, "svc");
    assert!(report.duration > Duration::ZERO);
    let first_byte = report.phases.first_byte.expect("first byte measured");
    assert!(first_byte <= report.duration);
    assert_eq!(report.cert_not_after, None);

    target.set_status(500);
    let report = probe(&check(&target.url()), &clients).await;
    assert_failed(&report, ErrorKind::HttpStatus, "HTTP 500");
    assert_eq!(report.status_code, 500);

    let head = Check {
        method: Method::Head,
        expected_status: vec![500],
        ..check(&target.url())
    };
    assert!(probe(&head, &clients).await.ok());
}

#[tokio::test]
async fn hang_times_out_on_time() {
    let target = Target::http().await;
    target.set_hang(true);
    let c = Check {
        timeout: Duration::from_secs(1),
        ..check(&target.url())
    };
    let started = std::time::Instant::now();
    let report = probe(&c, &clients()).await;
    assert_failed(&report, ErrorKind::Timeout, "timeout after 1s");
    assert_eq!(report.status_code, 0);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(target.hits(), 1);
}

#[tokio::test]
async fn closed_port_is_refused() {
    let closed = ClosedPort::new();
    let report = probe(&check(&closed.url()), &clients()).await;
    assert_failed(&report, ErrorKind::Connect, "connect: connection refused");
}

#[tokio::test]
async fn unknown_host_is_dns() {
    let report = probe(&check("http://nonexistent.invalid/"), &clients()).await;
    let failure = report.failure.expect("dns failure");
    assert_eq!(failure.kind, ErrorKind::Dns, "{failure:?}");
    assert_eq!(failure.detail, "dns: no such host");
}

#[tokio::test]
async fn tls_failures_are_told_apart() {
    let ca = TestCa::new();
    let trusting = clients_trusting(&ca);

    let valid = Target::https(&ca, TlsMode::Valid).await;
    let report = probe(&check(&valid.url()), &trusting).await;
    assert!(report.ok(), "{report:?}");
    // rcgen's default notAfter is 4096-01-01.
    let not_after = report.cert_not_after.expect("leaf expiry captured");
    let year_4096 = std::time::UNIX_EPOCH + Duration::from_secs(67_090_118_400);
    assert_eq!(not_after, year_4096);

    let report = probe(&check(&valid.url()), &clients()).await;
    assert_failed(
        &report,
        ErrorKind::Tls,
        "tls: unknown certificate authority",
    );

    let expired = Target::https(&ca, TlsMode::Expired).await;
    let report = probe(&check(&expired.url()), &trusting).await;
    assert_failed(&report, ErrorKind::Tls, "tls: certificate expired");

    let wrong = Target::https(&ca, TlsMode::WrongHost).await;
    let report = probe(&check(&wrong.url()), &trusting).await;
    assert_failed(
        &report,
        ErrorKind::Tls,
        "tls: certificate not valid for name",
    );
}

#[tokio::test]
async fn body_checks_and_bounds() {
    let target = Target::http().await;
    target.set_body("all systems healthy");
    let clients = clients();
    let c = Check {
        body_contains: "healthy".into(),
        ..check(&target.url())
    };
    assert!(probe(&c, &clients).await.ok());

    let c = Check {
        body_contains: "degraded".into(),
        ..check(&target.url())
    };
    let report = probe(&c, &clients).await;
    assert_failed(
        &report,
        ErrorKind::BodyMismatch,
        "body_mismatch: body does not contain \"degraded\"",
    );
    assert_eq!(report.status_code, 200);

    // A body far larger than the bound is cut: the marker past the bound is
    // not seen, one inside it is, and neither probe hangs.
    let big = format!("START{}END", "x".repeat(4 * 1024 * 1024));
    target.set_body(&big);
    let bounded = |needle: &str| Check {
        body_contains: needle.into(),
        max_body_bytes: 1024,
        timeout: Duration::from_secs(5),
        ..check(&target.url())
    };
    let report = probe(&bounded("END"), &clients).await;
    assert_failed(
        &report,
        ErrorKind::BodyMismatch,
        "body_mismatch: body does not contain \"END\"",
    );
    assert!(probe(&bounded("START"), &clients).await.ok());
}

#[tokio::test]
async fn redirects_follow_limit_or_stop() {
    let clients = clients();
    let end = Target::http().await;
    let hop = Target::http().await;
    hop.set_status(302);
    hop.set_redirect(Some(&format!("{}/", end.url())));
    let report = probe(&check(&hop.url()), &clients).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(end.hits(), 1);

    let no_follow = Check {
        follow_redirects: false,
        ..check(&hop.url())
    };
    let report = probe(&no_follow, &clients).await;
    assert_failed(&report, ErrorKind::HttpStatus, "HTTP 302");

    let looping = Target::http().await;
    looping.set_status(302);
    looping.set_redirect(Some(&format!("{}/again", looping.url())));
    let limited = Check {
        max_redirects: 3,
        ..check(&looping.url())
    };
    let report = probe(&limited, &clients).await;
    let failure = report.failure.expect("redirect failure");
    assert_eq!(failure.kind, ErrorKind::Protocol, "{failure:?}");
    assert_eq!(failure.detail, "protocol: too many redirects");
    assert_eq!(looping.hits(), 4);
}

#[tokio::test]
async fn source_address_is_what_the_target_sees() {
    let target = Target::http().await;
    let source: IpAddr = "127.0.0.2".parse().unwrap();
    let clients = Clients::new(ClientOptions {
        source_address: Some(source),
        extra_roots: Vec::new(),
    })
    .unwrap();
    let report = probe(&check(&target.url()), &clients).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(target.hits_from(source), 1);
    assert_eq!(target.hits_from("127.0.0.1".parse().unwrap()), 0);
}

#[tokio::test]
async fn new_connection_per_probe_unless_reuse() {
    // Both settings must work back to back against the same target.
    let target = Target::http().await;
    let clients = clients();
    for reuse in [false, true, true, false] {
        let c = Check {
            reuse_connections: reuse,
            ..check(&target.url())
        };
        assert!(probe(&c, &clients).await.ok());
    }
    target.wait_hits(4, Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_host_name_is_resolved_and_timed() {
    let target = Target::http().await;
    let url = target.url().replace("127.0.0.1", "localhost");
    assert!(url.contains("localhost"), "{url}");
    let report = probe(&check(&url), &clients()).await;
    assert!(report.ok(), "{report:?}");
    let phases = report.phases;
    assert!(phases.dns.unwrap() > Duration::ZERO, "{report:?}");
    assert!(phases.connect.unwrap() > Duration::ZERO, "{report:?}");
    assert_eq!(phases.tls, Some(Duration::ZERO), "plain HTTP: {report:?}");
    let sum = phases.dns.unwrap() + phases.connect.unwrap() + phases.first_byte.unwrap();
    assert!(
        sum + phases.transfer.unwrap() <= report.duration,
        "{report:?}"
    );
}
