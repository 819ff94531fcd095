//! `picket-probe-cpu`: CPU time per probe of the agent's real prober
//! (`picket_agent::probe::probe`) against a loopback target served by this
//! process on its own thread.
//!
//! The target (plain HTTP or TLS with a throwaway CA, HTTP/1.1 keep-alive,
//! a fixed 2 KiB body) runs on a separate OS thread; the probes run one
//! after another on a current-thread runtime. CPU is summed from
//! `/proc/self/task/*/schedstat` (nanoseconds on CPU, per thread) over every
//! thread except the target's, before and after the timed probes; the
//! first `--warmup` probes are not counted. Prints one JSON line.
//!
//! With `--url` or `--drive`, the paced modes of bench/blackbox.sh instead
//! (`paced.rs`).

mod paced;

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use picket_agent::domain::{Check, Method};
use picket_agent::probe::{ClientOptions, Clients, probe};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    paced: paced::Paced,
    drive: bool,
    tls: bool,
    reuse: bool,
    probes: u32,
    warmup: u32,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        paced: paced::Paced {
            url: String::new(),
            ca: None,
            rate: 500,
            seconds: 10,
            pid: 0,
            conns: 8,
        },
        drive: false,
        tls: true,
        reuse: false,
        probes: 2000,
        warmup: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--http" => a.tls = false,
            "--reuse" => a.reuse = true,
            "--probes" => a.probes = it.next().ok_or("--probes needs a value")?.parse()?,
            "--warmup" => a.warmup = it.next().ok_or("--warmup needs a value")?.parse()?,
            "--url" => a.paced.url = it.next().ok_or("--url needs a value")?,
            "--drive" => {
                a.paced.url = it.next().ok_or("--drive needs a value")?;
                a.drive = true;
            }
            "--ca" => a.paced.ca = Some(it.next().ok_or("--ca needs a value")?),
            "--rate" => a.paced.rate = it.next().ok_or("--rate needs a value")?.parse()?,
            "--seconds" => a.paced.seconds = it.next().ok_or("--seconds needs a value")?.parse()?,
            "--pid" => a.paced.pid = it.next().ok_or("--pid needs a value")?.parse()?,
            "--conns" => a.paced.conns = it.next().ok_or("--conns needs a value")?.parse()?,
            other => {
                return Err(
                    format!("unknown flag {other} (--http --reuse --probes N --warmup N; --url URL [--ca PEM] | --drive URL --pid PID [--conns N], --rate R --seconds S)").into(),
                );
            }
        }
    }
    Ok(a)
}

/// Nanoseconds on CPU of every thread of this process but `skip`.
fn cpu_ns(skip: &str) -> Result<u64, Error> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let task = task?;
        if task.file_name().to_string_lossy() == skip {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat"))?;
        total += stat
            .split_whitespace()
            .next()
            .ok_or("empty schedstat")?
            .parse::<u64>()?;
    }
    Ok(total)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let body = "x".repeat(2048);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n{body}",
        body.len()
    );
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.clear();
        if s.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Starts the target thread; returns its URL, the CA (for TLS) and its tid.
fn target(tls: bool) -> Result<(String, Option<CertificateDer<'static>>, String), Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut acceptor = None;
    let mut ca_der = None;
    if tls {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate()?;
        ca_der = Some(ca.self_signed(&ca_key)?.der().clone());
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate()?;
        let leaf =
            CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&key, &issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)?;
        acceptor = Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)));
    }
    std::thread::spawn(move || {
        let tid = std::fs::read_link("/proc/thread-self")
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let _ = tx.send((port, tid));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // The TLS server writes its session tickets, then the
                // response: without this, Nagle holds the response for the
                // client's delayed ACK (~40 ms a probe).
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(a) => {
                            if let Ok(s) = a.accept(stream).await {
                                serve(s).await;
                            }
                        }
                        None => serve(stream).await,
                    }
                });
            }
        });
    });
    let (port, tid) = rx.recv()?;
    let scheme = if tls { "https" } else { "http" };
    Ok((format!("{scheme}://127.0.0.1:{port}/"), ca_der, tid))
}

fn main() -> Result<(), Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = args()?;
    if !a.paced.url.is_empty() {
        let line = if a.drive {
            paced::drive(&a.paced)?
        } else {
            paced::prober(&a.paced)?
        };
        writeln!(std::io::stdout(), "{{{line}}}")?;
        return Ok(());
    }
    let (url, ca, target_tid) = target(a.tls)?;
    let clients = Clients::new(ClientOptions {
        source_address: None,
        extra_roots: ca.into_iter().collect(),
    })?;
    let check = Check {
        id: "bench".into(),
        url,
        method: Method::Get,
        headers: Default::default(),
        basic_auth: None,
        expected_status: vec![200],
        body_contains: String::new(),
        follow_redirects: true,
        max_redirects: 10,
        timeout: Duration::from_secs(10),
        interval: Duration::from_secs(60),
        max_body_bytes: 1024 * 1024,
        reuse_connections: a.reuse,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (cpu, wall) = rt.block_on(async {
        for _ in 0..a.warmup {
            let r = probe(&check, &clients).await;
            if !r.ok() {
                return Err(format!("warm-up probe failed: {r:?}").into());
            }
        }
        let (cpu0, wall0) = (cpu_ns(&target_tid)?, Instant::now());
        for _ in 0..a.probes {
            let r = probe(&check, &clients).await;
            if !r.ok() {
                return Err(format!("probe failed: {r:?}").into());
            }
        }
        Ok::<_, Error>((cpu_ns(&target_tid)? - cpu0, wall0.elapsed()))
    })?;
    let n = f64::from(a.probes);
    writeln!(
        std::io::stdout(),
        "{{\"tls\":{},\"reuse\":{},\"probes\":{},\"cpu_us_per_probe\":{:.1},\"wall_us_per_probe\":{:.1}}}",
        a.tls,
        a.reuse,
        a.probes,
        cpu as f64 / 1e3 / n,
        wall.as_secs_f64() * 1e6 / n
    )?;
    Ok(())
}
