//! picket-detect-bench: how long from a failure at a target to the
//! `request.opened` webhook, through the real binaries (issue 10, 6d).
//!
//! It starts a release `picket-collector`, AGENTS real `picket-agent`s (one
//! region each), a loopback HTTP target and a webhook receiver (the e2e
//! harness's), with one service checked every `--interval` and the quorum
//! double-check after `--recheck-delay`. Each trial makes the target answer
//! 503 and waits for the `request.opened` delivery, then makes it healthy
//! again and waits for `request.closed` and the service `up`. It times each
//! trial from the injection (what an operator sees, which includes the
//! wait for the next scheduled probe, up to one interval) and from the
//! first failing probe the target answered (what Picket itself adds), and
//! prints p50 / p99 / max of both against the bound `recheck_delay` + probe
//! time + 1 s, one JSON line per trial with `--json`.

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::Parser;
use picket_bench::summary;
use picket_e2e::target::Target;
use picket_e2e::{Agent, Collector, Config, Service, Webhook, WebhookSink};

const EQUIPMENT: &str = "shop";
const SERVICE: &str = "web";

#[derive(Parser)]
struct Args {
    /// Failures injected, one after the other.
    #[arg(long, default_value_t = 50)]
    trials: usize,
    /// Agents, each in its own region (quorum: a majority of them).
    #[arg(long, default_value_t = 3)]
    agents: usize,
    /// The service's `interval`.
    #[arg(long, default_value = "1s")]
    interval: humantime::Duration,
    /// The service's `recheck_delay`.
    #[arg(long, default_value = "2s")]
    recheck_delay: humantime::Duration,
    /// Prints one JSON line per trial too.
    #[arg(long)]
    json: bool,
}

/// Deadline for each wait: generous, a trial normally takes seconds.
const WAIT: Duration = Duration::from_secs(60);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let interval: Duration = args.interval.into();
    let recheck_delay: Duration = args.recheck_delay.into();
    let sink = WebhookSink::start().await?;
    let target = Target::http().await;
    let config = Config::fast()
        .defaults("interval", args.interval.to_string())
        .defaults("recheck_delay", args.recheck_delay.to_string())
        .equipment(EQUIPMENT, "Shop")
        .service(Service::new(SERVICE, EQUIPMENT, &target.url()))
        .webhook(Webhook::new("ops", &sink.url()).events(&["request.opened", "request.closed"]));
    let collector = Collector::start(config).await?;
    let mut agents = Vec::new();
    for i in 0..args.agents {
        let name = format!("agent-{i}");
        agents.push(Agent::start(
            &collector,
            &format!("region-{i}"),
            &name,
            None,
            &[],
        )?);
        collector.wait_agent_live(&name).await?;
    }
    let up = collector.wait_state(SERVICE, "up").await?;
    let probe_ms = up["last_latency_ms"].as_f64().unwrap_or(0.0);
    println!(
        "{} agents, interval {}, recheck_delay {}, healthy probe {probe_ms:.1} ms; {} trials",
        args.agents, args.interval, args.recheck_delay, args.trials
    );

    let mut from_injection = Vec::with_capacity(args.trials);
    let mut from_probe = Vec::with_capacity(args.trials);
    for trial in 1..=args.trials {
        let hits = target.hits();
        let injected = SystemTime::now();
        target.set_status(503);
        target.wait_hits(hits + 1, WAIT).await?;
        let first_failure = SystemTime::now();
        let opened = sink
            .await_deliveries("request.opened", trial, WAIT)
            .await
            .with_context(|| format!("trial {trial}: no request.opened"))?;
        let received = opened
            .last()
            .context("await_deliveries returned no delivery")?
            .received_at;
        let a = received.duration_since(injected).unwrap_or_default();
        let b = received.duration_since(first_failure).unwrap_or_default();
        if args.json {
            println!(
                "{{\"trial\":{trial},\"from_injection_ms\":{:.1},\"from_first_failure_ms\":{:.1}}}",
                a.as_secs_f64() * 1000.0,
                b.as_secs_f64() * 1000.0
            );
        }
        from_injection.push(a);
        from_probe.push(b);

        target.set_status(200);
        sink.await_deliveries("request.closed", trial, WAIT)
            .await
            .with_context(|| format!("trial {trial}: no request.closed"))?;
        collector.wait_state(SERVICE, "up").await?;
    }

    let bound = recheck_delay + Duration::from_secs_f64(probe_ms / 1000.0) + Duration::from_secs(1);
    println!(
        "injection -> webhook:     {} (includes up to one interval, {}, before the first failing probe)",
        summary(&mut from_injection),
        humantime::format_duration(interval)
    );
    println!("first failure -> webhook: {}", summary(&mut from_probe));
    let p99 = from_probe
        [((0.99 * from_probe.len() as f64).ceil() as usize).clamp(1, from_probe.len()) - 1];
    println!(
        "bound recheck_delay + probe time + 1 s = {:.0} ms; p99 from the first failure is {} it",
        bound.as_secs_f64() * 1000.0,
        if p99 <= bound { "within" } else { "OVER" }
    );
    for mut agent in agents {
        agent.kill();
    }
    Ok(())
}
