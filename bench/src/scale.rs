//! picket-scale-bench: the pieces of `bench/scale.sh` (issue 10, item 6c)
//! that a shell cannot do.
//!
//! `config` writes a collector config for SERVICES services the way a
//! large installation would: `picket.toml` with `include =
//! ["services.d/*.toml"]` and PER_FILE services (with their equipment) in
//! each included file. The first ASSIGN services are probed from region
//! `assign` only, the rest from region `bench` (where `picket-loadgen`'s
//! agents are), so one agent in region `assign` gets exactly ASSIGN checks.
//! `assign` connects such an agent over the real link (a new agent,
//! enrolled with the token) and times its assignment: connect → Welcome →
//! every part of the full set, up to the one marked `last`. It prints one
//! JSON object.
//! `target` serves a loopback HTTP target that answers every request `200
//! ok` (the e2e harness's `Target`) until it is killed, for a real agent
//! to probe (`bench/agent-rss.sh`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use picket_bench::Naming;
use picket_proto::agent::v1 as pb;
use picket_proto::agent::v1::agent_link_client::AgentLinkClient;
use picket_proto::agent::v1::agent_message::Msg as Up;
use picket_proto::agent::v1::collector_message::Msg as Down;
use tokio_stream::wrappers::ReceiverStream;

/// Services `svc-0000042` on equipment `rack-00000` (100 each).
const NAMING: Naming = Naming {
    per_equipment: 100,
    service: |i| format!("svc-{i:07}"),
    equipment: |e| format!("rack-{e:05}"),
    equipment_name: |e| format!("Rack {e}"),
};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes DIR/picket.toml and DIR/services.d/*.toml.
    Config {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        services: usize,
        /// Services per included file.
        #[arg(long, default_value_t = 1000)]
        per_file: usize,
        /// How many services region `assign` probes (the first ones).
        #[arg(long)]
        assign: usize,
        /// Everything in picket.toml, no `include` (for a collector that
        /// predates it).
        #[arg(long)]
        single: bool,
        /// Each service's URL; `{i}` becomes its number.
        #[arg(long, default_value = "https://s{i}.bench.test/health")]
        url: String,
        /// Every check's interval (`[defaults] interval`).
        #[arg(long, default_value = "60s")]
        interval: String,
        /// `[agents] heartbeat_interval` (the collector's default when
        /// absent).
        #[arg(long)]
        heartbeat_interval: Option<String>,
    },
    /// Serves `200 ok` on 127.0.0.1 until killed; writes its URL
    /// (`http://127.0.0.1:PORT`) to URL_FILE.
    Target {
        #[arg(long)]
        url_file: PathBuf,
    },
    /// Times the full assignment of a new agent in region `assign`.
    Assign {
        /// The collector's gRPC URL (`http://127.0.0.1:PORT`).
        #[arg(long)]
        collector: String,
        #[arg(long, default_value = "bench")]
        enrollment_token: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Config {
            dir,
            services,
            per_file,
            assign,
            single,
            url,
            interval,
            heartbeat_interval,
        } => {
            let shape = Shape {
                url,
                interval,
                heartbeat_interval,
                single,
            };
            write_config(&dir, services, per_file.max(1), assign, &shape)
        }
        Command::Target { url_file } => {
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            runtime.block_on(async {
                let target = picket_e2e::target::Target::http().await;
                std::fs::write(&url_file, target.url())
                    .with_context(|| format!("cannot write {}", url_file.display()))?;
                std::future::pending::<anyhow::Result<()>>().await
            })
        }
        Command::Assign {
            collector,
            enrollment_token,
            timeout,
        } => {
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let report = runtime.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(timeout),
                    assign(&collector, &enrollment_token),
                )
                .await
                .context("the assignment did not complete in time")?
            })?;
            println!("{report}");
            Ok(())
        }
    }
}

/// What `config` writes besides the services' number and regions.
struct Shape {
    /// Each service's URL, `{i}` its number.
    url: String,
    interval: String,
    heartbeat_interval: Option<String>,
    /// Everything in picket.toml, no `include`.
    single: bool,
}

fn write_config(
    dir: &std::path::Path,
    services: usize,
    per_file: usize,
    assign: usize,
    shape: &Shape,
) -> anyhow::Result<()> {
    let included = dir.join("services.d");
    std::fs::create_dir_all(&included)?;
    let single = shape.single;
    let heartbeat = match &shape.heartbeat_interval {
        Some(h) => format!("heartbeat_interval = \"{h}\"\n"),
        None => String::new(),
    };
    let mut main = format!(
        "{}[collector]\ngrpc_listen = \"127.0.0.1:0\"\n\
         http_listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://{}\"\n\
         admin_token = \"bench-admin\"\n\n[agents]\n\
         enrollment_token = \"bench\"\nauto_approve = true\nagents_per_service = 3\n{heartbeat}\n\
         [defaults]\ninterval = \"{}\"\nupgrade_to_https = false\n\n",
        if single {
            ""
        } else {
            "include = [\"services.d/*.toml\"]\n\n"
        },
        dir.join("picket.db").display(),
        shape.interval
    );
    let mut equipment_written = None;
    for (n, first) in (0..services).step_by(per_file).enumerate() {
        let mut text = String::new();
        for i in first..(first + per_file).min(services) {
            let e = i / NAMING.per_equipment;
            if equipment_written != Some(e) {
                let _ = write!(
                    text,
                    "[[equipment]]\nid = \"{}\"\nname = \"{}\"\n\n",
                    (NAMING.equipment)(e),
                    (NAMING.equipment_name)(e)
                );
                equipment_written = Some(e);
            }
            let region = if i < assign { "assign" } else { "bench" };
            let _ = write!(
                text,
                "[[services]]\nid = \"{}\"\nequipment = \"{}\"\n\
                 url = \"{}\"\nregions = [\"{region}\"]\n\n",
                (NAMING.service)(i),
                NAMING.equipment_of(i),
                shape.url.replace("{i}", &i.to_string())
            );
        }
        if single {
            main.push_str(&text);
        } else {
            std::fs::write(included.join(format!("{n:05}.toml")), text)?;
        }
    }
    std::fs::write(dir.join("picket.toml"), main)?;
    Ok(())
}

async fn assign(url: &str, token: &str) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect()
        .await
        .with_context(|| format!("failed to connect to {url}"))?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let hello = pb::Hello {
        protocol_version: picket_proto::contract::PROTOCOL_VERSION,
        agent_id: uuid::Uuid::new_v4().to_string(),
        enrollment_token: token.to_owned(),
        name: "scale-assign".into(),
        region: "assign".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    tx.send(pb::AgentMessage {
        msg: Some(Up::Hello(hello)),
    })
    .await?;
    let limit = picket_proto::contract::limits::MAX_LINK_MESSAGE_BYTES;
    let mut inbound = AgentLinkClient::new(channel)
        .max_decoding_message_size(limit)
        .connect(ReceiverStream::new(rx))
        .await
        .context("Connect refused")?
        .into_inner();
    let (mut welcome, mut first_part, mut parts, mut checks, mut bytes) = (None, None, 0, 0, 0);
    loop {
        let msg = inbound.message().await?.context("stream closed")?;
        match msg.msg {
            Some(Down::Welcome(_)) => welcome = Some(started.elapsed()),
            Some(Down::Assignment(a)) => {
                first_part.get_or_insert(started.elapsed());
                parts += 1;
                checks += a.checks.len();
                bytes += picket_proto::prost::Message::encoded_len(&a);
                if a.last {
                    break;
                }
            }
            _ => {}
        }
    }
    let complete = started.elapsed();
    let Some(welcome) = welcome else {
        bail!("the assignment came without a Welcome");
    };
    drop(tx);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(serde_json::json!({
        "checks": checks,
        "parts": parts,
        "bytes": bytes,
        "welcome_ms": ms(welcome),
        "first_part_ms": first_part.map(ms),
        "complete_ms": ms(complete),
    }))
}
