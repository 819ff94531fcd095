//! Paced modes for bench/blackbox.sh: the agent's prober against an outside
//! target at a fixed rate (`--url`), and the load loop that drives
//! blackbox_exporter at the same rate (`--drive`).
//!
//! Both measure the CPU of the process under test the same way: user plus
//! system time from `/proc/PID/stat` (every thread of the process), over
//! `--seconds` after a warm-up; and its `VmRSS` at the end. In `--url` mode
//! the process under test is this one (the agent's scheduler and prober on
//! the agent's runtime); in `--drive` mode it is
//! `--pid` (the exporter), and this process, the driver, is not counted.
//! Each prints one JSON line.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use picket_agent::domain::{Check, Method};
use picket_agent::probe::{ClientOptions, Clients, Prober};
use picket_agent::scheduler::SchedulerHandle;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::Error;

/// What the paced modes take from the command line.
pub struct Paced {
    pub url: String,
    pub ca: Option<String>,
    pub rate: u32,
    pub seconds: u64,
    pub pid: u32,
    pub conns: u32,
}

/// CPU seconds (user + system, all threads) and VmRSS (kB) of `pid`.
fn cpu_rss(pid: &str) -> Result<(f64, u64), Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command's closing parenthesis: state is field 3;
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).ok_or("short stat")?.parse::<u64>()?
        + f.get(12).ok_or("short stat")?.parse::<u64>()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Ok((ticks as f64 / 100.0, rss))
}

/// Runs `one` at `rate` per second for one second of warm-up, then for
/// `seconds`, and reports the CPU and RSS of process `pid`.
async fn paced<F, Fut>(p: &Paced, pid: &str, conns: u32, one: F) -> Result<String, Error>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let one = Arc::new(one);
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let period = Duration::from_secs_f64(f64::from(conns) / f64::from(p.rate.max(1)));
    let end = Instant::now() + Duration::from_secs(1 + p.seconds);
    let mut lanes = Vec::new();
    for lane in 0..conns {
        let (one, ok, failed) = (one.clone(), ok.clone(), failed.clone());
        let start = Instant::now() + period.mul_f64(f64::from(lane) / f64::from(conns));
        lanes.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(start, period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            while tick.tick().await < end {
                let counter = if one().await { &ok } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, n0, wall0) = (cpu_rss(pid)?.0, ok.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(p.seconds)).await;
    let ((cpu1, rss), n1, wall) = (cpu_rss(pid)?, ok.load(Ordering::Relaxed), wall0.elapsed());
    for lane in lanes {
        lane.await?;
    }
    report(
        n1 - n0,
        failed.load(Ordering::Relaxed),
        wall,
        cpu1 - cpu0,
        rss,
    )
}

/// The JSON fields of one paced run.
fn report(probes: u64, failed: u64, wall: Duration, cpu: f64, rss: u64) -> Result<String, Error> {
    if probes == 0 {
        return Err("no probe succeeded in the timed window".into());
    }
    Ok(format!(
        "\"probes\":{probes},\"failed\":{failed},\"rate\":{:.1},\"cpu_ms_per_probe\":{:.4},\"cpu_pct\":{:.1},\"rss_kb\":{rss}",
        probes as f64 / wall.as_secs_f64(),
        cpu * 1e3 / probes as f64,
        cpu * 100.0 / wall.as_secs_f64(),
    ))
}

/// `--url`: the agent's scheduler and prober (a new connection per probe)
/// on the agent's runtime: `--rate` checks of the URL at a 1 s interval, so
/// the agent spreads them over the second itself (its phases); reports are
/// counted as they reach what stands for the link.
pub fn prober(p: &Paced) -> Result<String, Error> {
    let mut roots = Vec::new();
    if let Some(path) = &p.ca {
        roots.push(CertificateDer::from_pem_file(path)?);
    }
    let clients = Clients::new(ClientOptions {
        source_address: None,
        extra_roots: roots,
    })?;
    let checks: Vec<Check> = (0..p.rate)
        .map(|i| Check {
            id: format!("bench-{i}").into(),
            url: p.url.clone(),
            method: Method::Get,
            headers: Default::default(),
            basic_auth: None,
            expected_status: vec![200],
            body_contains: String::new(),
            follow_redirects: true,
            max_redirects: 10,
            timeout: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            max_body_bytes: 1024 * 1024,
            reuse_connections: false,
        })
        .collect();
    let rt = picket_agent::runtime().build()?;
    rt.block_on(async move {
        let (tx, mut rx) = mpsc::channel(1024);
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (ok2, failed2) = (ok.clone(), failed.clone());
        tokio::spawn(async move {
            while let Some(report) = rx.recv().await {
                let report: picket_agent::domain::ProbeReport = report;
                if report.ok() {
                    ok2.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed2.fetch_add(1, Ordering::Relaxed);
                    eprintln!("probe failed: {:?}", report.failure);
                }
            }
        });
        let token = CancellationToken::new();
        let handle = SchedulerHandle::spawn(
            Arc::new(Prober::new(clients)),
            tx,
            "0b6f3d9e-4a51-4c1e-9d7e-1f2a3b4c5d6e".into(),
            token.clone(),
        );
        handle.assign(checks).await?;
        // Every check has run once after one interval.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (cpu0, n0, wall0) = (
            cpu_rss("self")?.0,
            ok.load(Ordering::Relaxed),
            Instant::now(),
        );
        tokio::time::sleep(Duration::from_secs(p.seconds)).await;
        let ((cpu1, rss), n1, wall) = (
            cpu_rss("self")?,
            ok.load(Ordering::Relaxed),
            wall0.elapsed(),
        );
        token.cancel();
        report(
            n1 - n0,
            failed.load(Ordering::Relaxed),
            wall,
            cpu1 - cpu0,
            rss,
        )
    })
}

/// `--drive`: GET `--url` at `--rate` over `--conns` keep-alive
/// connections (HTTP/1.1), for blackbox_exporter
/// process `--pid`; a probe counts as ok when the body says
/// `probe_success 1`.
pub fn drive(p: &Paced) -> Result<String, Error> {
    let rest = p
        .url
        .strip_prefix("http://")
        .ok_or("--drive needs an http:// URL")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n");
    let host = host.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pid = p.pid.to_string();
    let conns = p.conns.max(1);
    rt.block_on(async move {
        let mut pool = Vec::new();
        for _ in 0..conns {
            pool.push(Arc::new(tokio::sync::Mutex::new(
                TcpStream::connect(&host).await?,
            )));
        }
        let next = Arc::new(AtomicU64::new(0));
        paced(p, &pid, conns, move || {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize % pool.len();
            let (conn, request) = (pool[i].clone(), request.clone());
            async move {
                let mut s = conn.lock().await;
                match exchange(&mut s, &request).await {
                    Ok(ok) => ok,
                    Err(e) => {
                        eprintln!("exporter request failed: {e}");
                        false
                    }
                }
            }
        })
        .await
    })
}

/// One request and its response (sized or chunked) on a kept-alive stream.
async fn exchange(s: &mut TcpStream, request: &str) -> Result<bool, Error> {
    s.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err("exporter closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse::<usize>())
        .transpose()?;
    let chunked = head.contains("transfer-encoding: chunked");
    if length.is_none() && !chunked {
        return Err("exporter response neither sized nor chunked".into());
    }
    // A chunked body ends with its zero-length chunk.
    while length.map_or(!buf.ends_with(b"\r\n0\r\n\r\n"), |len| {
        buf.len() < head_end + len
    }) {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err("exporter closed the connection mid-body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let len = length.unwrap_or(buf.len() - head_end);
    let body = &buf[head_end..head_end + len];
    Ok(body.windows(15).any(|w| w == b"probe_success 1"))
}
