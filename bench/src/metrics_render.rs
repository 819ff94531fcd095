//! `picket-metrics-bench`: what `/metrics` costs at scale, and whether it
//! holds ingest back.
//!
//! Builds the collector's in-memory metrics for `--services` services
//! (from a generated configuration) × `--agents` agents, each pair with a
//! latest probe carrying phases and a certificate, and a directory
//! assigning every agent to every service. Then:
//! 1. streams the text exposition `--scrapes` times, as the HTTP handler
//!    does (`metrics::stream::spawn`: a blocking thread, 256 KiB chunks
//!    through a bounded channel), timing each until the last chunk is
//!    drained, in both `probe_series` modes: one cold render first (right
//!    after the registry publishes a directory, so every row is resolved
//!    again), then p50 / p99 / max, the size, the largest chunk, the most
//!    text the render held at once, and how much the process's peak RSS
//!    (VmHWM, reset before the scrapes) rose above its RSS;
//! 2. runs an ingest-like loop on a real SQLite store (`--db`):
//!    `Store::record_batch` of `--batch` results, then the probe table's
//!    update, one batch every `--interval-ms`, timing each batch from
//!    start to "acked", first with no scrape running, then with scrapes
//!    back to back, and prints both side by side.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_stream::StreamExt as _;

use anyhow::Context as _;
use clap::Parser;
use picket_collector::agents::{Directory, DownlinkTx, LinkHandle};
use picket_collector::config::{ProbeSeries, parse};
use picket_collector::domain::{AgentId, Phases, ProbeOutcome, ProbeResult, ServiceId};
use picket_collector::metrics::Metrics;
use picket_collector::metrics::chunks::Rendered;
use picket_collector::metrics::exposition::Format;
use picket_collector::metrics::scrape::Scraped;
use picket_collector::metrics::stream::{self, Streaming};
use picket_collector::store::{EventSettings, ResultRecord, Store};
use picket_collector::time::Clock;

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The SQLite file to create (must not exist).
    #[arg(long)]
    db: PathBuf,
    #[arg(long, default_value_t = 100_000)]
    services: usize,
    #[arg(long, default_value_t = 3)]
    agents: usize,
    /// Renders timed per mode.
    #[arg(long, default_value_t = 10)]
    scrapes: usize,
    /// Results per ingest batch.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    #[arg(long, default_value_t = 50)]
    interval_ms: u64,
    /// Ingest batches timed per phase.
    #[arg(long, default_value_t = 200)]
    batches: usize,
}

fn outcome(i: usize) -> ProbeOutcome {
    ProbeOutcome {
        ok: !i.is_multiple_of(17),
        status_code: Some(if !i.is_multiple_of(17) { 200 } else { 503 }),
        error_kind: None,
        error: None,
        duration_us: 30_000 + (i % 1000) as u64,
        phases: Phases {
            dns_us: Some(1200),
            connect_us: Some(800),
            tls_us: Some(12_000),
            processing_us: Some(15_000 + (i % 1000) as u64),
            transfer_us: Some(1000),
        },
        cert_not_after_ms: Some(1_798_848_000_000),
    }
}

fn service(i: usize) -> ServiceId {
    format!("svc-{i:06}").into()
}

fn quantiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    format!(
        "p50 {:>8.1?}  p99 {:>8.1?}  max {:>8.1?}  (n={})",
        q(0.5),
        q(0.99),
        v[v.len() - 1],
        v.len()
    )
}

/// One scrape as the HTTP handler streams it: the render's figures, the
/// time until the last chunk was drained, and the largest chunk.
async fn scrape(m: &Arc<Metrics>) -> anyhow::Result<(Rendered, Duration, usize)> {
    let t = Instant::now();
    let (mut chunks, render) = stream::spawn(
        m.clone(),
        Format::Text,
        Scraped::default(),
        Streaming::default(),
    );
    let mut largest = 0;
    while let Some(chunk) = chunks.next().await {
        largest = largest.max(chunk?.len());
    }
    let elapsed = t.elapsed();
    Ok((render.await??, elapsed, largest))
}

/// A `/proc/self/status` field in KiB (Linux), 0 elsewhere.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux 4.0+), so the next reading is
/// the peak since now.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut toml = format!(
        "[collector]\ndatabase = \"sqlite://{}\"\n[agents]\nenrollment_token = \"bench-token-0123456789abcdef\"\n",
        args.db.display()
    );
    for e in 0..100 {
        toml.push_str(&format!("[[equipment]]\nid = \"eq-{e:03}\"\n"));
    }
    for i in 0..args.services {
        toml.push_str(&format!(
            "[[services]]\nid = \"svc-{i:06}\"\nequipment = \"eq-{:03}\"\nurl = \"https://svc-{i:06}.example.test/\"\n",
            i % 100
        ));
    }
    let config = parse(&args.db.with_extension("toml"), &toml).context("generated config")?;
    let metrics = Arc::new(Metrics::new());
    metrics.reconfigure(&config);
    let agents: Vec<AgentId> = (0..args.agents)
        .map(|a| format!("agent-{a}").into())
        .collect();
    let directory = Directory {
        agents: agents
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let (tx, rx) = DownlinkTx::channel(1);
                std::mem::forget(rx);
                let link = LinkHandle {
                    id: id.clone(),
                    name: format!("edge-{n}"),
                    region: ["eu", "us", "ap"][n % 3].into(),
                    tx,
                };
                (id.clone(), link)
            })
            .collect(),
        by_service: (0..args.services)
            .map(|i| (service(i), agents.clone()))
            .collect(),
        services: Arc::new(HashSet::new()),
    };
    metrics.published(&Arc::new(directory), &Arc::default());
    for i in 0..args.services {
        for a in &agents {
            metrics.probes.record(&service(i), a, 1000, &outcome(i));
        }
    }
    println!(
        "{} services x {} agents = {} latest probes",
        args.services,
        args.agents,
        args.services * args.agents
    );

    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let directory = metrics.directory().directory.clone();
    for (mode, name) in [
        (ProbeSeries::Agent, "agent"),
        (ProbeSeries::Service, "service"),
    ] {
        metrics.set_probe_series(mode);
        // A new publication: every row is resolved again.
        metrics.published(&directory, &Arc::default());
        let (_, cold, _) = scrape(&metrics).await?;
        reset_peak();
        let rss = status_kib("VmRSS:");
        let mut times = Vec::new();
        let (mut rendered, mut largest) = (Rendered::default(), 0);
        for _ in 0..args.scrapes {
            let (r, t, l) = scrape(&metrics).await?;
            times.push(t);
            largest = largest.max(l);
            rendered.peak_buffered = rendered.peak_buffered.max(r.peak_buffered);
            (rendered.bytes, rendered.chunks) = (r.bytes, r.chunks);
        }
        let peak_rise = status_kib("VmHWM:").saturating_sub(rss);
        println!(
            "stream probe_series={name:<7}  {}  cold {cold:.1?}",
            quantiles(times)
        );
        println!(
            "  size {:.1} MiB in {} chunks (largest {} KiB), held at most {:.2} MiB; peak RSS {:.1} MiB over RSS {:.1} MiB",
            mib(rendered.bytes),
            rendered.chunks,
            largest / 1024,
            mib(rendered.peak_buffered),
            peak_rise as f64 / 1024.0,
            rss as f64 / 1024.0,
        );
    }
    metrics.set_probe_series(ProbeSeries::Agent);

    let store = Store::open(
        &format!("sqlite://{}", args.db.display()),
        EventSettings::default(),
        Clock::system(),
    )
    .await
    .context("cannot open the store")?;
    let mut next = 0usize;
    let mut ingest = async |scraping: bool| -> anyhow::Result<Vec<Duration>> {
        let stop = Arc::new(AtomicBool::new(!scraping));
        let scraper = {
            let (m, stop) = (metrics.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let _ = scrape(&m).await;
                    n += 1;
                }
                n
            })
        };
        let mut times = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(args.interval_ms));
        for _ in 0..args.batches {
            tick.tick().await;
            let records: Vec<ResultRecord> = (0..args.batch)
                .map(|k| {
                    next += 1;
                    ResultRecord {
                        agent: agents[k % agents.len()].clone(),
                        result: ProbeResult {
                            seq: next as u64,
                            service: service(next % args.services),
                            round_id: 0,
                            started_at_ms: 1_000_000 + next as i64,
                            outcome: outcome(next),
                        },
                    }
                })
                .collect();
            let t = Instant::now();
            let recorded = store.record_batch(&records, &[]).await?;
            for (r, stored) in records.iter().zip(recorded.stored) {
                if stored {
                    let p = &r.result;
                    metrics
                        .probes
                        .record(&p.service, &r.agent, p.started_at_ms, &p.outcome);
                }
            }
            times.push(t.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        let scrapes = scraper.await?;
        if scraping {
            println!("  ({scrapes} scrapes ran during the batches)");
        }
        Ok(times)
    };
    let quiet = ingest(false).await?;
    let busy = ingest(true).await?;
    println!(
        "ingest batch of {} (commit + probe table), one every {} ms:",
        args.batch, args.interval_ms
    );
    println!("  no scrape:              {}", quantiles(quiet));
    println!("  scrapes back to back:   {}", quantiles(busy));
    Ok(())
}
