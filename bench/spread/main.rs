//! `picket-spread`: how evenly the agent's scheduler spreads its probes, and
//! what many checks cost it in memory.
//!
//! Assigns `--checks` checks (interval `--interval` seconds) to the agent's
//! real scheduler (`SchedulerHandle`) and runs for `--intervals` intervals.
//! Each probe is the agent's real prober against a loopback HTTP target
//! served by this process on its own thread (a new connection per probe),
//! or, with `--stub`, an instant fake probe (to measure the scheduler's own
//! memory at scale). With `--tasks`, the checks run instead on one tokio
//! task each with a sleep loop, as the scheduler did before issue 10 (a
//! reference for memory). Probe starts are counted per second since the
//! assignment. Prints one JSON line: probes, mean, min and max per whole
//! second, the busiest sliding one-second window, max / mean, failed
//! probes, VmRSS after assignment and at the end, and VmHWM.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use picket_agent::domain::{Check, Method, ProbeReport};
use picket_agent::probe::{ClientOptions, Clients, Probe, Prober};
use picket_agent::scheduler::SchedulerHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    checks: usize,
    interval: u64,
    intervals: u64,
    stub: bool,
    tasks: bool,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        checks: 10_000,
        interval: 60,
        intervals: 2,
        stub: false,
        tasks: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--checks" => a.checks = value()?.parse()?,
            "--interval" => a.interval = value()?.parse()?,
            "--intervals" => a.intervals = value()?.parse()?,
            "--stub" => a.stub = true,
            "--tasks" => a.tasks = true,
            other => {
                return Err(format!(
                    "unknown flag {other} (--checks N --interval SECS --intervals K --stub --tasks)"
                )
                .into());
            }
        }
    }
    if a.interval == 0 || a.intervals == 0 {
        return Err("--interval and --intervals must be at least 1".into());
    }
    Ok(a)
}

/// A field of `/proc/self/status` in kB (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Answers every request with a tiny 200 and closes the connection.
fn target() -> Result<String, Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let _ = tx.send(listener.local_addr().expect("addr").port());
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::with_capacity(512);
                    let mut chunk = [0u8; 512];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                    let _ = stream.write_all(ok).await;
                });
            }
        });
    });
    Ok(format!("http://127.0.0.1:{}/", rx.recv()?))
}

/// Counts probe starts per second since `t0`, then probes with `inner`
/// (or answers at once without it).
struct Counting {
    inner: Option<Prober>,
    t0: Instant,
    per_second: Vec<AtomicU32>,
    starts: Mutex<Vec<Duration>>,
    failed: AtomicU64,
}

impl Probe for Counting {
    async fn probe(&self, check: &Check) -> ProbeReport {
        let since = self.t0.elapsed();
        if let Some(n) = self.per_second.get(since.as_secs() as usize) {
            n.fetch_add(1, Ordering::Relaxed);
            self.starts.lock().expect("starts").push(since);
        }
        let report = match &self.inner {
            Some(prober) => prober.probe(check).await,
            None => ProbeReport {
                check_id: check.id.clone(),
                round_id: 0,
                started_at: SystemTime::now(),
                duration: Duration::ZERO,
                status_code: 200,
                failure: None,
                phases: Default::default(),
                cert_not_after: None,
            },
        };
        if !report.ok() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        report
    }
}

fn checks(n: usize, url: &str, interval: Duration) -> Vec<Check> {
    let teams = ["payments", "search", "auth", "catalog", "shipping"];
    (0..n)
        .map(|i| Check {
            id: format!("{}-api-{i:06}.eu-west-1", teams[i % teams.len()]).into(),
            url: format!("{url}?check={i}"),
            method: Method::Get,
            headers: Default::default(),
            basic_auth: None,
            expected_status: vec![200],
            body_contains: String::new(),
            follow_redirects: true,
            max_redirects: 10,
            timeout: Duration::from_secs(10),
            interval,
            max_body_bytes: 1024 * 1024,
            reuse_connections: false,
        })
        .collect()
}

/// The old shape, for reference: one task per check, a first offset spread
/// within min(interval, 5 s), then start-to-start.
fn spawn_tasks(prober: Arc<Counting>, checks: Vec<Check>, results: mpsc::Sender<ProbeReport>) {
    for (i, check) in checks.into_iter().enumerate() {
        let (prober, results) = (prober.clone(), results.clone());
        let bound = check.interval.min(Duration::from_secs(5)).as_millis() as u64;
        let offset = Duration::from_millis((i as u64).wrapping_mul(7919) % bound.max(1));
        tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            loop {
                let start = Instant::now();
                if results.send(prober.probe(&check).await).await.is_err() {
                    return;
                }
                tokio::time::sleep_until(start + check.interval).await;
            }
        });
    }
}

fn main() -> Result<(), Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = args()?;
    let url = if a.stub {
        "http://stub.invalid/".to_owned()
    } else {
        target()?
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(a, url))
}

async fn run(a: Args, url: String) -> Result<(), Error> {
    let interval = Duration::from_secs(a.interval);
    let seconds = a.interval * a.intervals;
    let inner = if a.stub {
        None
    } else {
        Some(Prober::new(Clients::new(ClientOptions {
            source_address: None,
            extra_roots: Vec::new(),
        })?))
    };
    let counting = Arc::new(Counting {
        inner,
        t0: Instant::now(),
        per_second: (0..seconds).map(|_| AtomicU32::new(0)).collect(),
        starts: Mutex::new(Vec::new()),
        failed: AtomicU64::new(0),
    });
    let (tx, mut rx) = mpsc::channel(1024);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let token = CancellationToken::new();
    let checks = checks(a.checks, &url, interval);
    let _handle = if a.tasks {
        spawn_tasks(counting.clone(), checks, tx);
        None
    } else {
        let handle = SchedulerHandle::spawn(
            counting.clone(),
            tx,
            "0b6f3d9e-4a51-4c1e-9d7e-1f2a3b4c5d6e".into(),
            token.clone(),
        );
        handle.assign(checks).await?;
        Some(handle)
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_assigned = status_kb("VmRSS");
    tokio::time::sleep_until(counting.t0 + Duration::from_secs(seconds)).await;
    token.cancel();
    let rss_end = status_kb("VmRSS");
    let counts: Vec<u32> = counting
        .per_second
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .collect();
    let mut starts = counting.starts.lock().expect("starts").clone();
    starts.sort();
    let mut busiest = 0;
    let mut lo = 0;
    for hi in 0..starts.len() {
        while starts[hi] - starts[lo] >= Duration::from_secs(1) {
            lo += 1;
        }
        busiest = busiest.max(hi - lo + 1);
    }
    let total: u64 = counts.iter().map(|&n| u64::from(n)).sum();
    let mean = total as f64 / seconds as f64;
    let max = counts.iter().copied().max().unwrap_or(0);
    let min = counts.iter().copied().min().unwrap_or(0);
    println!(
        "{{\"mode\":\"{}\",\"checks\":{},\"interval_s\":{},\"seconds\":{seconds},\"probes\":{total},\"failed\":{},\"mean_per_s\":{mean:.1},\"min_per_s\":{min},\"max_per_s\":{max},\"busiest_1s_window\":{busiest},\"max_over_mean\":{:.2},\"busiest_over_mean\":{:.2},\"rss_assigned_kb\":{rss_assigned},\"rss_end_kb\":{rss_end},\"hwm_kb\":{}}}",
        match (a.tasks, a.stub) {
            (false, false) => "heap-http",
            (false, true) => "heap-stub",
            (true, false) => "tasks-http",
            (true, true) => "tasks-stub",
        },
        a.checks,
        a.interval,
        counting.failed.load(Ordering::Relaxed),
        f64::from(max) / mean.max(f64::MIN_POSITIVE),
        busiest as f64 / mean.max(f64::MIN_POSITIVE),
        status_kb("VmHWM"),
    );
    Ok(())
}
