//! picket-pages-bench: what the status pages cost at scale.
//!
//! `fill` writes a collector config listing SERVICES services (100 per
//! equipment) and a store holding them with a day of hourly rollups (plus
//! today's daily row) each, three agents with heartbeat stats, the latest
//! result of each agent for each service, and 1 % of the services down
//! with an open request. It writes SQL directly (the bench is its own
//! store): the collector opens the file as it is. `measure` waits for the
//! collector's `/readyz` (its `--ports-file`), then GETs a path REQUESTS
//! times, one request at a time on a new connection, and prints p50, p99
//! and max.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use picket_bench::{Naming, open_for_fill, ports_address, summary, write_config};
use picket_collector::domain::HostStats;
use picket_collector::domain::rollup::{Histogram, Period};
use picket_collector::time::Clock;
use sqlx::QueryBuilder;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes DIR/picket.toml and DIR/picket.db.
    Fill {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        services: usize,
    },
    /// Times GET PATH on the collector whose ports file is given.
    Measure {
        #[arg(long)]
        ports_file: PathBuf,
        #[arg(long)]
        path: String,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
}

const AGENTS: [(&str, &str, &str); 3] = [
    ("agent-eu", "edge-eu", "eu"),
    ("agent-us", "edge-us", "us"),
    ("agent-ap", "edge-ap", "ap"),
];
const SERVICES_PER_EQUIPMENT: usize = 100;
/// Rows per multi-row insert.
const CHUNK: usize = 2_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Fill { dir, services } => fill(&dir, services).await,
        Command::Measure {
            ports_file,
            path,
            requests,
        } => measure(&ports_file, &path, requests).await,
    }
}

/// Ids as `svc-000042` in `eq-0000` (named `Equipment 0`).
const NAMING: Naming = Naming {
    per_equipment: SERVICES_PER_EQUIPMENT,
    service: |i| format!("svc-{i:06}"),
    equipment: |e| format!("eq-{e:04}"),
    equipment_name: |e| format!("Equipment {e}"),
};

fn service_id(i: usize) -> String {
    (NAMING.service)(i)
}

fn equipment_id(i: usize) -> String {
    NAMING.equipment_of(i)
}

async fn fill(dir: &std::path::Path, services: usize) -> anyhow::Result<()> {
    let url = write_config(dir, services, &NAMING)?;
    let pool = open_for_fill(&url).await?;
    let now = Clock::system().now_ms();
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    for e in 0..NAMING.equipment_count(services) {
        sqlx::query("INSERT INTO equipment (id, name) VALUES ($1, $2)")
            .bind((NAMING.equipment)(e))
            .bind((NAMING.equipment_name)(e))
            .execute(&mut *tx)
            .await?;
    }
    for (n, (id, name, region)) in AGENTS.iter().enumerate() {
        let stats = serde_json::to_string(&HostStats {
            cpu_percent: 3.5,
            load1: 0.2,
            load5: 0.1,
            load15: 0.05,
            mem_total_bytes: 8 << 30,
            mem_used_bytes: 2 << 30,
            disk_total_bytes: 100 << 30,
            disk_used_bytes: 40 << 30,
            uptime_s: 86_400,
            agent_version: "bench".into(),
            checks_assigned: services as u32,
            ..HostStats::default()
        })?;
        sqlx::query(
            "INSERT INTO agents (id, name, region, state, created_ms, last_seen_ms, stats) \
             VALUES ($1, $2, $3, 'active', $4, $4, $5)",
        )
        .bind(*id)
        .bind(*name)
        .bind(*region)
        .bind(now)
        .bind(stats)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO agent_keys (key, id) VALUES ($1, $2)")
            .bind(n as i64 + 1)
            .bind(*id)
            .execute(&mut *tx)
            .await?;
    }
    let ids: Vec<usize> = (0..services).collect();
    let down = |i: usize| i % 100 == 42;
    for chunk in ids.chunks(CHUNK) {
        let mut q: QueryBuilder<sqlx::Any> = QueryBuilder::new(
            "INSERT INTO services (id, url, equipment_id, active, state, configured) ",
        );
        q.push_values(chunk, |mut b, &i| {
            b.push_bind(service_id(i))
                .push_bind(format!("https://s{i}.bench.test/health"))
                .push_bind(equipment_id(i))
                .push_bind(1i64)
                .push_bind(if down(i) { "down" } else { "up" })
                .push_bind(1i64);
        });
        q.build().execute(&mut *tx).await?;
        let mut q: QueryBuilder<sqlx::Any> =
            QueryBuilder::new("INSERT INTO service_keys (key, id) ");
        q.push_values(chunk, |mut b, &i| {
            b.push_bind(i as i64 + 1).push_bind(service_id(i));
        });
        q.build().execute(&mut *tx).await?;
    }
    // A day of hourly rollups and today's daily row per service.
    let this_hour = Period::Hour.start_of(now);
    let today = Period::Day.start_of(now);
    let mut histogram = Histogram::default();
    for ms in [38, 40, 41, 45, 52, 60] {
        for _ in 0..10 {
            histogram.record(ms * 1000);
        }
    }
    let blob = histogram.encode();
    let rows: Vec<(usize, i64, i64)> = ids
        .iter()
        .flat_map(|&i| {
            (0..24)
                .map(move |h| (i, 3600, this_hour - h * 3_600_000))
                .chain(std::iter::once((i, 86_400, today)))
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<sqlx::Any> = QueryBuilder::new(
            "INSERT OR IGNORE INTO rollups (scope, key, period_s, start_ms, probes, failures, \
             latency_count, latency_sum_us, latency_min_us, latency_max_us, histogram) ",
        );
        q.push_values(chunk, |mut b, &(i, period, start)| {
            let scale = if period == 3600 { 1 } else { 24 };
            let failures = if down(i) { 60 * scale } else { 0 };
            b.push_bind(0i64)
                .push_bind(i as i64 + 1)
                .push_bind(period)
                .push_bind(start)
                .push_bind(180 * scale)
                .push_bind(failures)
                .push_bind(60i64)
                .push_bind(60 * 46_000i64)
                .push_bind(38_000i64)
                .push_bind(60_000i64)
                .push_bind(blob.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    // The latest result of each agent, and the open requests.
    let pairs: Vec<(usize, i64)> = ids
        .iter()
        .flat_map(|&i| (1..=3).map(move |a| (i, a)))
        .collect();
    for chunk in pairs.chunks(CHUNK) {
        let mut q: QueryBuilder<sqlx::Any> = QueryBuilder::new(
            "INSERT INTO latest_results (service, agent, time_ms, round_id, ok, duration_us, \
             status_code, dns_us, connect_us, tls_us, processing_us, transfer_us, cert_not_after_ms) ",
        );
        q.push_values(chunk, |mut b, &(i, agent)| {
            b.push_bind(i as i64 + 1)
                .push_bind(agent)
                .push_bind(now - 20_000)
                .push_bind(0i64)
                .push_bind(i64::from(!down(i)))
                .push_bind(46_000i64)
                .push_bind(if down(i) { 503i64 } else { 200 })
                .push_bind(2_000i64)
                .push_bind(5_000i64)
                .push_bind(12_000i64)
                .push_bind(25_000i64)
                .push_bind(2_000i64)
                .push_bind(now + 40 * 86_400_000);
        });
        q.build().execute(&mut *tx).await?;
    }
    for i in ids.iter().copied().filter(|&i| down(i)) {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO requests (name, kind, priority, description, stage, service_id, \
             equipment_id, url, opened_ms) VALUES ($1, 'corrective', '2', 'HTTP 503', 'open', $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(format!("[HTTP KO] https://s{i}.bench.test/health"))
        .bind(service_id(i))
        .bind(equipment_id(i))
        .bind(format!("https://s{i}.bench.test/health"))
        .bind(now - 3_600_000)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE services SET open_request_id = $1 WHERE id = $2")
            .bind(id)
            .bind(service_id(i))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;
    println!(
        "filled {} services, {} rollup rows, {} latest results in {:.1?}",
        services,
        rows.len(),
        pairs.len(),
        started.elapsed()
    );
    Ok(())
}

async fn measure(ports_file: &std::path::Path, path: &str, requests: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let http = ports_address(ports_file, "http", Duration::from_secs(300)).await?;
    loop {
        if let Ok((200, _)) = get(&http, "/readyz").await {
            break;
        }
        if Instant::now() > deadline {
            bail!("{http}/readyz never answered 200");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One warm-up request (page cache, statement cache).
    let (status, bytes) = get(&http, path).await?;
    if status != 200 {
        bail!("GET {path}: HTTP {status}");
    }
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let (status, _) = get(&http, path).await?;
        times.push(t.elapsed());
        if status != 200 {
            bail!("GET {path}: HTTP {status}");
        }
    }
    println!(
        "GET {path}: {requests} requests, {bytes} bytes, {}",
        summary(&mut times)
    );
    Ok(())
}

/// GET over HTTP/1.0: the status and the body's length.
async fn get(addr: &str, path: &str) -> anyhow::Result<(u16, usize)> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nhost: bench\r\n\r\n").as_bytes())
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
    Ok((status, body))
}
