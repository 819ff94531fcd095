//! The generated results: every service probed by every agent once per
//! interval (each agent at its own phase), in time order, cut into batches.
//! Each service has a typical latency (20–300 ms) and each probe varies by
//! ±20 % around it; failures carry a status or a short error text.

use picket_collector::domain::{ErrorKind, ProbeOutcome, ProbeResult};
use picket_collector::store::ResultRecord;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Args;

/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;

pub fn generate(args: &Args) -> Vec<Vec<ResultRecord>> {
    let mut rng = StdRng::seed_from_u64(8);
    let agents: Vec<String> = (0..args.agents)
        .map(|_| {
            uuid::Builder::from_random_bytes(rng.random())
                .into_uuid()
                .to_string()
        })
        .collect();
    let services: Vec<(String, u64)> = (0..args.services)
        .map(|i| (format!("svc-{i:05}"), rng.random_range(20_000..300_000)))
        .collect();
    let phase: Vec<i64> = (0..args.services * args.agents)
        .map(|_| rng.random_range(0..args.interval_s * 1000))
        .collect();
    let mut seq = vec![0u64; args.agents];
    let mut out = Vec::with_capacity(args.results);
    'ticks: for tick in 0.. {
        let base = START_MS + tick * args.interval_s * 1000;
        for (s, (service, typical)) in services.iter().enumerate() {
            for (a, agent) in agents.iter().enumerate() {
                if out.len() == args.results {
                    break 'ticks;
                }
                seq[a] += 1;
                let duration_us = (*typical as f64 * rng.random_range(0.8..1.2)) as u64;
                out.push(ResultRecord {
                    agent: agent.clone().into(),
                    result: ProbeResult {
                        seq: seq[a],
                        service: service.clone().into(),
                        round_id: 0,
                        started_at_ms: base + phase[s * args.agents + a],
                        outcome: outcome(&mut rng, args.failure_rate, duration_us),
                    },
                });
            }
        }
    }
    out.sort_by_key(|r| r.result.started_at_ms);
    let mut batches = Vec::new();
    let mut rest = out.into_iter().peekable();
    while rest.peek().is_some() {
        batches.push(rest.by_ref().take(args.batch).collect());
    }
    batches
}

fn outcome(rng: &mut StdRng, failure_rate: f64, duration_us: u64) -> ProbeOutcome {
    if !rng.random_bool(failure_rate) {
        return ProbeOutcome {
            ok: true,
            status_code: Some(200),
            error_kind: None,
            error: None,
            duration_us,
        };
    }
    let (kind, code, text, us) = match rng.random_range(0..3) {
        0 => (ErrorKind::HttpStatus, Some(503), "HTTP 503", duration_us),
        1 => (ErrorKind::Connect, None, "connect: connection refused", 900),
        _ => (ErrorKind::Timeout, None, "timeout after 10s", 10_000_000),
    };
    ProbeOutcome {
        ok: false,
        status_code: code,
        error_kind: Some(kind),
        error: Some(text.to_owned()),
        duration_us: us,
    }
}
