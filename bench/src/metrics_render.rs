//! `picket-metrics-bench`: what `/metrics` costs at scale, and whether it
//! holds ingest back.
//!
//! Builds the collector's in-memory metrics for `--services` services
//! (from a generated configuration) × `--agents` agents, each pair with a
//! latest probe carrying phases and a certificate, and a directory
//! assigning every agent to every service. Then:
//! 1. renders the text exposition `--scrapes` times, as the HTTP handler
//!    does (on a blocking thread), in both `probe_series` modes, and
//!    prints p50 / p99 / max and the size;
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

use anyhow::Context as _;
use clap::Parser;
use picket_collector::agents::{Directory, DownlinkTx, LinkHandle};
use picket_collector::config::{ProbeSeries, parse};
use picket_collector::domain::{AgentId, Phases, ProbeOutcome, ProbeResult, ServiceId};
use picket_collector::metrics::Metrics;
use picket_collector::metrics::exposition::Format;
use picket_collector::metrics::scrape::Scraped;
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

    for (mode, name) in [
        (ProbeSeries::Agent, "agent"),
        (ProbeSeries::Service, "service"),
    ] {
        metrics.set_probe_series(mode);
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..args.scrapes {
            let m = metrics.clone();
            let t = Instant::now();
            let chunks = tokio::task::spawn_blocking(move || {
                m.render_with(Format::Text, &Scraped::default())
            })
            .await?;
            times.push(t.elapsed());
            bytes = chunks.iter().map(String::len).sum::<usize>();
        }
        println!(
            "render probe_series={name:<7}  {}  size {:.1} MiB",
            quantiles(times),
            bytes as f64 / (1024.0 * 1024.0)
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
                    let m = m.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        m.render_with(Format::Text, &Scraped::default())
                    })
                    .await;
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
