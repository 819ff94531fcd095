//! Phases and certificate expiry measured against a loopback HTTPS target
//! that injects known delays: before starting the TLS handshake (after the
//! kernel completed the TCP connect), before the response head, and between
//! the head and the body. The target measures each injected span on its own
//! clock, and the probe's phase must lie within -20/+60 ms of it (a phase
//! booked to the wrong span would be off by 150 ms). The sleeps
//! below are the injected delays, not waits.
//!
//! The target presents leaf + intermediate, the intermediate expiring first
//! (2030-01-01), so the reported expiry must be the intermediate's.

#![allow(clippy::unwrap_used)] // test fixtures: a failed setup should panic

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use picket_agent::domain::{Check, Method};
use picket_agent::probe::{ClientOptions, Clients, probe};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const DELAY: Duration = Duration::from_millis(150);
/// How much shorter than the target's span a phase may be (the target's
/// clock starts at accept, the probe's TLS phase at its ClientHello).
const TOLERANCE: Duration = Duration::from_millis(20);
/// How much longer it may be: a probe woken late on a loaded machine only
/// adds (CI saw +25 ms over two hops), while a phase booked to the wrong
/// span would be off by a whole [`DELAY`].
const LATE: Duration = Duration::from_millis(60);
/// 2030-01-01T00:00:00Z, the intermediate's notAfter.
const INTERMEDIATE_EXPIRY: u64 = 1_893_456_000;

/// What the target measured for one connection, on its own clock.
#[derive(Debug, Default, Clone, Copy)]
struct Spans {
    /// From accept to the end of the TLS handshake (includes DELAY).
    tls: Duration,
    /// From the request's end to the head written (includes DELAY), per
    /// request on the connection.
    head: Duration,
    /// From the head written to the body written (includes DELAY).
    body: Duration,
}

struct Pki {
    root: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn ca_params(not_after: Option<(i32, u8, u8)>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    if let Some((y, m, d)) = not_after {
        params.not_after = rcgen::date_time_ymd(y, m, d);
    }
    params
}

fn pki() -> Pki {
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params(None);
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let int_key = KeyPair::generate().unwrap();
    let int_params = ca_params(Some((2030, 1, 1)));
    let intermediate = int_params.signed_by(&int_key, &root_issuer).unwrap();
    let int_issuer = Issuer::new(int_params, int_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf_params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    let leaf = leaf_params.signed_by(&leaf_key, &int_issuer).unwrap();
    Pki {
        root: root.der().clone(),
        chain: vec![leaf.der().clone(), intermediate.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

/// Starts the delaying target on its own thread (so that the probe's own
/// work cannot postpone the target's clock, as it would on a shared
/// runtime); `/hop` answers 302 to `/` and closes the connection, anything
/// else 200 with a body. Returns its base URL and a channel of per-request
/// spans. The thread lives as long as the test process.
fn target(pki: &Pki) -> (String, mpsc::UnboundedReceiver<Spans>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    std::thread::spawn(move || runtime.block_on(serve(listener, acceptor, tx)));
    (url, rx)
}

async fn serve(
    listener: std::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    tx: mpsc::UnboundedSender<Spans>,
) {
    let listener = TcpListener::from_std(listener).unwrap();
    {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let accepted = Instant::now();
                tokio::time::sleep(DELAY).await;
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut spans = Spans {
                    tls: accepted.elapsed(),
                    ..Spans::default()
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let hop = buf.starts_with(b"GET /hop ");
                    buf.clear();
                    let read = Instant::now();
                    tokio::time::sleep(DELAY).await;
                    if hop {
                        let head = "HTTP/1.1 302 Found\r\nlocation: /\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
                        tls.write_all(head.as_bytes()).await.unwrap();
                        tls.flush().await.unwrap();
                        spans.head = read.elapsed();
                        let _ = tx.send(spans);
                        let _ = tls.shutdown().await;
                        return;
                    }
                    let head = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n";
                    tls.write_all(head.as_bytes()).await.unwrap();
                    tls.flush().await.unwrap();
                    spans.head = read.elapsed();
                    let written = Instant::now();
                    tokio::time::sleep(DELAY).await;
                    tls.write_all(b"ok").await.unwrap();
                    tls.flush().await.unwrap();
                    spans.body = written.elapsed();
                    let _ = tx.send(spans);
                    // Later requests on this connection pay no handshake.
                    spans.tls = Duration::ZERO;
                }
            });
        }
    }
}

fn check(url: String, reuse: bool) -> Check {
    Check {
        id: "svc".into(),
        url,
        method: Method::Get,
        headers: Default::default(),
        basic_auth: None,
        expected_status: vec![200],
        body_contains: "ok".into(),
        follow_redirects: true,
        max_redirects: 10,
        timeout: Duration::from_secs(10),
        interval: Duration::from_secs(60),
        max_body_bytes: 1024,
        reuse_connections: reuse,
    }
}

fn clients(pki: &Pki) -> Clients {
    Clients::new(ClientOptions {
        source_address: None,
        extra_roots: vec![pki.root.clone()],
    })
    .unwrap()
}

/// Up to this many attempts per timing test: scheduling on a loaded
/// 2-core machine can wake the probe late by tens of milliseconds now and
/// then, which only ever adds; one attempt within the bounds passes.
const ATTEMPTS: usize = 3;

/// `Err` unless `measured` is within [`TOLERANCE`] below and [`LATE`]
/// above what the target measured for the span holding the injected
/// delay. (Not "at least the delay": the target's clock starts at accept,
/// the probe's TLS phase at its ClientHello, which may come a little
/// later.)
fn close_to(what: &str, measured: Option<Duration>, server: Duration) -> Result<(), String> {
    let measured = measured.ok_or_else(|| format!("{what} not measured"))?;
    assert!(server >= DELAY, "{what}: the target did not delay");
    if measured + TOLERANCE >= server && measured <= server + LATE {
        Ok(())
    } else {
        Err(format!("{what}: measured {measured:?}, target {server:?}"))
    }
}

/// Panics unless one of [`ATTEMPTS`] results is `Ok`.
fn any_ok(results: Vec<Result<(), String>>) {
    if !results.iter().any(Result::is_ok) {
        panic!("no attempt within -{TOLERANCE:?}/+{LATE:?}: {results:#?}");
    }
}

fn expiry() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(INTERMEDIATE_EXPIRY)
}

#[tokio::test]
async fn tls_first_byte_and_transfer_match_the_injected_delays() {
    let pki = pki();
    let (url, mut spans) = target(&pki);
    let url = format!("{url}/");
    let mut results = Vec::new();
    while results.len() < ATTEMPTS && !results.iter().any(Result::is_ok) {
        // Fresh clients: the first probe opens a new connection.
        let clients = clients(&pki);
        let report = probe(&check(url.clone(), true), &clients).await;
        assert!(report.ok(), "{report:?}");
        let server = spans.recv().await.unwrap();
        // An IP literal is not resolved; the chain's earliest expiry is the
        // intermediate's.
        assert_eq!(report.phases.dns, Some(Duration::ZERO), "{report:?}");
        assert!(report.phases.connect.is_some(), "{report:?}");
        assert_eq!(report.cert_not_after, Some(expiry()), "{report:?}");
        let fresh = [
            close_to("tls", report.phases.tls, server.tls),
            close_to("first_byte", report.phases.first_byte, server.head),
            close_to("transfer", report.phases.transfer, server.body),
        ];

        // Over the kept-alive connection: no DNS, connect or TLS; the
        // chain's expiry is still the intermediate's.
        let report = probe(&check(url.clone(), true), &clients).await;
        assert!(report.ok(), "{report:?}");
        let server = spans.recv().await.unwrap();
        assert_eq!(server.tls, Duration::ZERO, "a new connection was opened");
        let zero = Some(Duration::ZERO);
        assert_eq!(
            (report.phases.dns, report.phases.connect, report.phases.tls),
            (zero, zero, zero),
            "{report:?}"
        );
        assert_eq!(report.cert_not_after, Some(expiry()), "{report:?}");
        let reused = close_to("reused first_byte", report.phases.first_byte, server.head);
        results.push(fresh.into_iter().chain([reused]).collect());
    }
    any_ok(results);
}

#[tokio::test]
async fn phases_add_up_over_redirect_hops() {
    let pki = pki();
    let (url, mut spans) = target(&pki);
    let url = format!("{url}/hop");
    let mut results = Vec::new();
    while results.len() < ATTEMPTS && !results.iter().any(Result::is_ok) {
        let report = probe(&check(url.clone(), false), &clients(&pki)).await;
        assert!(report.ok(), "{report:?}");
        let (hop, end) = (spans.recv().await.unwrap(), spans.recv().await.unwrap());
        // Two connections, each with a delayed handshake; two delayed heads;
        // the last hop's body.
        results.push(
            [
                close_to("tls", report.phases.tls, hop.tls + end.tls),
                close_to("first_byte", report.phases.first_byte, hop.head + end.head),
                close_to("transfer", report.phases.transfer, end.body),
            ]
            .into_iter()
            .collect(),
        );
    }
    any_ok(results);
}
