//! The generated results: every service probed by every agent once per
//! interval (each agent at its own phase), in time order, cut into batches.
//! Each service has a typical latency (20–300 ms) and each probe varies by
//! ±20 % around it; failures carry a status or a short error text. Every
//! probe is HTTPS on a new connection (the default, and the most to store):
//! DNS, connect, TLS and transfer as shares of its latency, processing the
//! rest, and its
//! service's certificate expiry (whole seconds, 10 to 365 days ahead).

use picket_collector::domain::{ErrorKind, Phases, ProbeOutcome, ProbeResult};
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
    let services: Vec<(String, u64, i64)> = (0..args.services)
        .map(|i| {
            let cert_ms = START_MS + rng.random_range(10..=365) * 86_400_000;
            (
                format!("svc-{i:05}"),
                rng.random_range(20_000..300_000),
                cert_ms,
            )
        })
        .collect();
    let phase: Vec<i64> = (0..args.services * args.agents)
        .map(|_| rng.random_range(0..args.interval_s * 1000))
        .collect();
    let mut seq = vec![0u64; args.agents];
    let mut out = Vec::with_capacity(args.results);
    'ticks: for tick in 0.. {
        let base = START_MS + tick * args.interval_s * 1000;
        for (s, (service, typical, cert_ms)) in services.iter().enumerate() {
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
                        outcome: outcome(&mut rng, args.failure_rate, duration_us, *cert_ms),
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

fn outcome(rng: &mut StdRng, failure_rate: f64, duration_us: u64, cert_ms: i64) -> ProbeOutcome {
    let mut share = |lo: f64, hi: f64| (duration_us as f64 * rng.random_range(lo..hi)) as u64;
    let (dns, connect, tls, transfer) = (
        share(0.01, 0.05),
        share(0.05, 0.15),
        share(0.15, 0.30),
        share(0.02, 0.10),
    );
    let phases = Phases {
        dns_us: Some(dns),
        connect_us: Some(connect),
        tls_us: Some(tls),
        processing_us: Some(duration_us - dns - connect - tls - transfer),
        transfer_us: Some(transfer),
    };
    if !rng.random_bool(failure_rate) {
        return ProbeOutcome {
            ok: true,
            status_code: Some(200),
            error_kind: None,
            error: None,
            duration_us,
            phases,
            cert_not_after_ms: Some(cert_ms),
        };
    }
    let (kind, code, text, us, phases) = match rng.random_range(0..3) {
        0 => (
            ErrorKind::HttpStatus,
            Some(503),
            "HTTP 503",
            duration_us,
            phases,
        ),
        1 => {
            let dns_only = Phases {
                dns_us: Some(300),
                ..Phases::default()
            };
            (
                ErrorKind::Connect,
                None,
                "connect: connection refused",
                900,
                dns_only,
            )
        }
        _ => (
            ErrorKind::Timeout,
            None,
            "timeout after 10s",
            10_000_000,
            Phases::default(),
        ),
    };
    ProbeOutcome {
        ok: false,
        status_code: code,
        error_kind: Some(kind),
        error: Some(text.to_owned()),
        duration_us: us,
        cert_not_after_ms: (kind == ErrorKind::HttpStatus).then_some(cert_ms),
        phases,
    }
}
