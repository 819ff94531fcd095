//! `picket-loadgen`: N fake agents on the real agent link, streaming
//! successful results at a fixed total rate or saturated (`--rate 0`:
//! each agent keeps `--window` batches unacknowledged), for benchmarks
//! (`bench/`).
//!
//! It enrolls every agent first, then measures, over the streaming phase
//! only (first batch to last Ack): results sent and acknowledged, the wall
//! time, the ack latency (a batch's send to the Ack covering its last seq:
//! p50, p99, max), its own CPU time and, with `--collector-pid`, the
//! collector's (both from `/proc/PID/stat`, Linux) and its resident memory
//! at the end (`VmRSS`, peak `VmHWM`). It prints one JSON object.

mod agent;
mod cpu;
mod memory;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tokio::time::Instant;

/// Fake agents streaming results to a Picket collector.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The collector's gRPC URL, `http://` or `https://`.
    #[arg(long)]
    collector: String,
    /// A root certificate to trust for `https://` (PEM).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// The collector's enrollment token (agents must be auto-approved).
    #[arg(long, env = "PICKET_ENROLLMENT_TOKEN")]
    enrollment_token: String,
    /// Number of fake agents, one link each.
    #[arg(long, default_value_t = 4)]
    agents: usize,
    /// Total results per second over all agents; 0: saturated (as fast
    /// as the collector acks, `--window` batches in flight per agent).
    #[arg(long, default_value_t = 5000)]
    rate: u32,
    /// Saturated mode: unacknowledged batches each agent keeps in flight.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Results per batch message.
    #[arg(long, default_value_t = 25)]
    batch: usize,
    /// How long to stream, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// How long to wait for the last Acks after streaming, in seconds.
    #[arg(long, default_value_t = 30)]
    ack_wait: u64,
    /// The collector's process id, to report its CPU time too.
    #[arg(long)]
    collector_pid: Option<u32>,
    /// How long each agent's enrollment (connect, Welcome, the first part
    /// of its assignment) may take, in seconds.
    #[arg(long, default_value_t = agent::ENROLL_TIMEOUT.as_secs())]
    enroll_timeout: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.agents > 0 && args.batch > 0 && args.window > 0,
        "zero load"
    );
    let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let tls = match &args.ca_cert {
        Some(path) => {
            let tls = picket_tls::ClientTls {
                extra_roots: picket_tls::pem::certificates(path)?,
                identity: None,
            };
            Some(tls.connector()?)
        }
        None => None,
    };
    let target = agent::Target {
        url: args.collector.clone(),
        tls,
        token: args.enrollment_token.clone(),
        enroll_timeout: Duration::from_secs(args.enroll_timeout),
    };
    let mut sessions = Vec::with_capacity(args.agents);
    for i in 0..args.agents {
        sessions.push(
            agent::enroll(&target, i)
                .await
                .with_context(|| format!("agent {i}"))?,
        );
    }
    // Each agent sends one batch every `every`; together they make `rate`.
    let pace = match args.rate {
        0 => agent::Pace::Window(args.window),
        rate => agent::Pace::Every(Duration::from_secs_f64(
            (args.batch * args.agents) as f64 / f64::from(rate),
        )),
    };
    let collector_pid = args.collector_pid.map(|p| p.to_string());
    let collector_before = collector_pid.as_deref().map(cpu::ticks).transpose()?;
    let self_before = cpu::ticks("self")?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let ack_wait = Duration::from_secs(args.ack_wait);
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|s| tokio::spawn(agent::stream(s, args.batch, pace, deadline, ack_wait)))
        .collect();
    let mut total = agent::Tally::default();
    for task in tasks {
        let tally = task.await.context("agent task panicked")??;
        total.sent += tally.sent;
        total.acked += tally.acked;
        total.ack_latency_us.extend(tally.ack_latency_us);
    }
    total.ack_latency_us.sort_unstable();
    let latency = |q| {
        (!total.ack_latency_us.is_empty())
            .then(|| picket_bench::nearest_rank(&total.ack_latency_us, q) as f64 / 1000.0)
    };
    let memory = collector_pid.as_deref().map(memory::status).transpose()?;
    let elapsed = start.elapsed();
    let self_after = cpu::ticks("self")?;
    let collector_after = collector_pid.as_deref().map(cpu::ticks).transpose()?;
    let report = serde_json::json!({
        "tls": args.ca_cert.is_some(),
        "agents": args.agents,
        "batch": args.batch,
        "target_rate": args.rate,
        "window": (args.rate == 0).then_some(args.window),
        "sent": total.sent,
        "acked": total.acked,
        "elapsed_s": elapsed.as_secs_f64(),
        "loadgen_ticks": self_after - self_before,
        "collector_ticks": collector_before.zip(collector_after).map(|(b, a)| a - b),
        "ack_latency_ms": {"p50": latency(0.5), "p99": latency(0.99), "max": latency(1.0)},
        "collector_rss_kb": memory.map(|m| m.rss_kb),
        "collector_hwm_kb": memory.map(|m| m.hwm_kb),
    });
    println!("{report}");
    Ok(())
}
