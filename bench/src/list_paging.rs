//! picket-list-bench: what a `ListServices` page costs at scale (issue 10:
//! a page of 1000 under 50 ms p99 at 1M services).
//!
//! `fill` writes a collector config listing SERVICES services (100 per
//! equipment) and a store holding them, by plain SQL inserts (fast enough
//! for a million). `api` times pages through the running collector's gRPC
//! API: the first page REQUESTS times, then a walk over every page
//! following `next_page_token` (keyset: the last page costs what the first
//! does). `store` times the same pages on the store directly (the query
//! under the API), for sizes where starting a collector takes long.
//! Each prints p50, p99 and max.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use picket_bench::{Naming, open_for_fill, ports_address, summary, write_config};
use picket_collector::store::{Cursor, EventSettings, PageFilter, Store};
use picket_collector::time::Clock;
use picket_proto::contract::limits::MAX_API_MESSAGE_BYTES;
use picket_proto::v1 as api;
use picket_proto::v1::picket_client::PicketClient;
use sqlx::QueryBuilder;

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
    /// Times ListServices pages on the collector whose ports file is given.
    Api {
        #[arg(long)]
        ports_file: PathBuf,
        #[arg(long, default_value_t = 1000)]
        page_size: u32,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// Times the same pages on the store file directly.
    Store {
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 1000)]
        page_size: usize,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
}

const PER_EQUIPMENT: usize = 100;
/// Rows per multi-row insert (9 values each, under SQLite's 32766).
const CHUNK: usize = 3_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Fill { dir, services } => fill(&dir, services).await,
        Command::Api {
            ports_file,
            page_size,
            requests,
        } => api_pages(&ports_file, page_size, requests).await,
        Command::Store {
            db,
            page_size,
            requests,
        } => store_pages(&db, page_size, requests).await,
    }
}

/// Ids as `svc-0000042` in `eq-00000` (seven digits: up to 10M services).
const NAMING: Naming = Naming {
    per_equipment: PER_EQUIPMENT,
    service: |i| format!("svc-{i:07}"),
    equipment: |e| format!("eq-{e:05}"),
    equipment_name: |e| format!("eq-{e:05}"),
};

async fn fill(dir: &Path, services: usize) -> anyhow::Result<()> {
    let url = write_config(dir, services, &NAMING)?;
    let equipment = NAMING.equipment_count(services);
    let started = Instant::now();
    let pool = open_for_fill(&url).await?;
    let now = Clock::system().now_ms();
    let mut tx = pool.begin().await?;
    let rows: Vec<usize> = (0..equipment).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<sqlx::Any> = QueryBuilder::new("INSERT INTO equipment (id, name) ");
        q.push_values(chunk, |mut b, &e| {
            b.push_bind((NAMING.equipment)(e))
                .push_bind((NAMING.equipment_name)(e));
        });
        q.build().execute(&mut *tx).await?;
    }
    let rows: Vec<usize> = (0..services).collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q: QueryBuilder<sqlx::Any> =
            QueryBuilder::new("INSERT INTO services (id, url, equipment_id, state, configured) ");
        q.push_values(chunk, |mut b, &i| {
            b.push_bind((NAMING.service)(i))
                .push_bind(format!("https://s{i}.bench.test/health"))
                .push_bind(NAMING.equipment_of(i))
                .push_bind("up")
                .push_bind(1i64);
        });
        q.build().execute(&mut *tx).await?;
        let mut q: QueryBuilder<sqlx::Any> =
            QueryBuilder::new("INSERT INTO service_keys (key, id) ");
        q.push_values(chunk, |mut b, &i| {
            b.push_bind(i as i64 + 1).push_bind((NAMING.service)(i));
        });
        q.build().execute(&mut *tx).await?;
        // A service's last check is its agents' newest latest result
        // (one agent here): the page reads it through that join.
        let mut q: QueryBuilder<sqlx::Any> = QueryBuilder::new(
            "INSERT INTO latest_results (service, agent, time_ms, round_id, ok, duration_us, \
             status_code) ",
        );
        q.push_values(chunk, |mut b, &i| {
            b.push_bind(i as i64 + 1)
                .push_bind(1i64)
                .push_bind(now)
                .push_bind(0i64)
                .push_bind(1i64)
                .push_bind(40_000i64)
                .push_bind(200i64);
        });
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;
    println!("filled {services} services in {:.1?}", started.elapsed());
    Ok(())
}

async fn client(ports_file: &Path) -> anyhow::Result<PicketClient<tonic::transport::Channel>> {
    let addr = ports_address(ports_file, "grpc", Duration::from_secs(600)).await?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await
        .with_context(|| format!("connect to the collector at {addr}"))?;
    Ok(PicketClient::new(channel)
        .max_decoding_message_size(MAX_API_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_API_MESSAGE_BYTES))
}

async fn api_pages(ports_file: &Path, page_size: u32, requests: usize) -> anyhow::Result<()> {
    let mut c = client(ports_file).await?;
    let page = |page_token: String| api::ListServicesRequest {
        page_size,
        page_token,
        ..Default::default()
    };
    // One call first: the collector may still be starting.
    c.list_services(page(String::new())).await?;
    let mut first = Vec::with_capacity(requests);
    let mut bytes = 0;
    for _ in 0..requests {
        let t = Instant::now();
        let answer = c.list_services(page(String::new())).await?.into_inner();
        first.push(t.elapsed());
        bytes = picket_proto::prost::Message::encoded_len(&answer);
    }
    println!(
        "ListServices page_size {page_size}, first page ({bytes} bytes) x {requests}: {}",
        summary(&mut first)
    );
    let (mut walk, mut rows, mut token) = (Vec::new(), 0, String::new());
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let answer = c.list_services(page(token)).await?.into_inner();
        walk.push(t.elapsed());
        rows += answer.services.len();
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
    }
    println!(
        "ListServices page_size {page_size}, every page ({} pages, {rows} services, {:.1?}): {}",
        walk.len(),
        started.elapsed(),
        summary(&mut walk)
    );
    Ok(())
}

async fn store_pages(db: &Path, page_size: usize, requests: usize) -> anyhow::Result<()> {
    let url = format!("sqlite://{}", db.display());
    let store = Store::open(&url, EventSettings::default(), Clock::system())
        .await
        .context("open the store")?;
    let all = PageFilter::default();
    let mut first = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        store.service_page(&all, &Cursor::First, page_size).await?;
        first.push(t.elapsed());
    }
    println!(
        "store page of {page_size}, first page x {requests}: {}",
        summary(&mut first)
    );
    let (mut walk, mut rows, mut cursor) = (Vec::new(), 0, Cursor::First);
    loop {
        let t = Instant::now();
        let page = store.service_page(&all, &cursor, page_size).await?;
        walk.push(t.elapsed());
        rows += page.services.len();
        match page.services.last() {
            Some(last) if page.has_next => {
                cursor = Cursor::AfterKey(last.row.equipment_id.clone(), last.row.id.clone());
            }
            _ => break,
        }
    }
    println!(
        "store page of {page_size}, every page ({} pages, {rows} services): {}",
        walk.len(),
        summary(&mut walk)
    );
    store.close().await;
    Ok(())
}
