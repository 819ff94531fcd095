//! `picketctl`: the command line over the `picket.v1.Picket` API.
//!
//! Tables for people, `--json` for scripts (one JSON document: a list for
//! list commands, an object for single ones; `events --follow` prints one
//! object per line). Exit status: 0 success, 1 error (one line on stderr),
//! 2 bad usage.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use picket_collector::time::rfc3339;
use picket_proto::prost_types::Timestamp;
use picket_proto::tonic::metadata::MetadataValue;
use picket_proto::tonic::service::interceptor::InterceptedService;
use picket_proto::tonic::transport::{Channel, Endpoint};
use picket_proto::tonic::{Request, Status};
use picket_proto::v1::{self as pb, picket_client::PicketClient};
use serde_json::{Value, json};

/// Picket command line: services, requests, agents, maintenance.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The collector's gRPC address.
    #[arg(
        long,
        env = "PICKET_COLLECTOR",
        default_value = "http://127.0.0.1:7070",
        global = true
    )]
    collector: String,
    /// The admin bearer token (needed for changes).
    #[arg(long, env = "PICKET_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List services with their state.
    Services,
    /// Show one service.
    Service { id: String },
    /// List maintenance requests.
    Requests {
        /// Only open ones.
        #[arg(long)]
        open: bool,
    },
    /// Show one request with its notes.
    Request { id: i64 },
    /// List agents, or approve / suspend one.
    Agents {
        #[command(subcommand)]
        action: Option<AgentsAction>,
    },
    /// Start or end maintenance of an equipment.
    Maintenance {
        #[command(subcommand)]
        action: MaintenanceAction,
    },
    /// Probe a service from all its agents now.
    Check { service: String },
    /// Print events (with --follow, keep printing new ones).
    Events {
        #[arg(long)]
        follow: bool,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
}

#[derive(Subcommand)]
enum AgentsAction {
    /// Let a new (or suspended) agent probe.
    Approve { id: String },
    /// Stop an agent from probing and alerting.
    Suspend { id: String },
}

#[derive(Subcommand)]
enum MaintenanceAction {
    Start {
        equipment: String,
        /// How long, e.g. 30m, 4h, 1h30m (default: maintenance.default_duration).
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    End {
        equipment: String,
    },
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    picket_collector::config::parse_duration(s)
}

type Client = PicketClient<InterceptedService<Channel, Auth>>;

#[derive(Clone)]
struct Auth(Option<MetadataValue<picket_proto::tonic::metadata::Ascii>>);

impl picket_proto::tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("picketctl: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("picketctl: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn connect(cli: &Cli) -> anyhow::Result<Client> {
    let endpoint = Endpoint::from_shared(cli.collector.clone())
        .with_context(|| format!("invalid --collector {:?}", cli.collector))?;
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the collector at {}", cli.collector))?;
    let auth = match &cli.token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .context("the token must be printable ASCII")?,
        ),
        None => None,
    };
    Ok(PicketClient::with_interceptor(channel, Auth(auth)))
}

fn status(e: Status) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut client = connect(&cli).await?;
    let json = cli.json;
    match cli.command {
        Command::Services => {
            let list = client
                .list_services(pb::ListServicesRequest {})
                .await
                .map_err(status)?
                .into_inner()
                .services;
            let values: Vec<Value> = list.iter().map(service_json).collect();
            output(json, &Value::Array(values.clone()), || {
                table(
                    &[
                        "ID",
                        "STATE",
                        "CODE",
                        "ERROR",
                        "LAST CHECK",
                        "REQUEST",
                        "EQUIPMENT",
                        "URL",
                    ],
                    values.iter().map(|s| {
                        cells(
                            s,
                            &[
                                "id",
                                "state",
                                "last_status_code",
                                "last_error",
                                "last_check_at",
                                "open_request",
                                "equipment",
                                "url",
                            ],
                        )
                    }),
                )
            })
        }
        Command::Service { id } => {
            let s = client
                .get_service(pb::GetServiceRequest { id })
                .await
                .map_err(status)?
                .into_inner();
            let v = service_json(&s);
            output(json, &v, || fields(&v))
        }
        Command::Requests { open } => {
            let list = client
                .list_requests(pb::ListRequestsRequest { open_only: open })
                .await
                .map_err(status)?
                .into_inner()
                .requests;
            let values: Vec<Value> = list.iter().map(request_json).collect();
            output(json, &Value::Array(values.clone()), || {
                table(
                    &["ID", "STAGE", "PRIORITY", "OPENED", "CLOSED", "NAME"],
                    values.iter().map(|r| {
                        cells(
                            r,
                            &["id", "stage", "priority", "opened_at", "closed_at", "name"],
                        )
                    }),
                )
            })
        }
        Command::Request { id } => {
            let r = client
                .get_request(pb::GetRequestRequest { id })
                .await
                .map_err(status)?
                .into_inner();
            let v = request_json(&r);
            output(json, &v, || fields(&v))
        }
        Command::Agents { action: None } => {
            let list = client
                .list_agents(pb::ListAgentsRequest {})
                .await
                .map_err(status)?
                .into_inner()
                .agents;
            let values: Vec<Value> = list.iter().map(agent_json).collect();
            output(json, &Value::Array(values.clone()), || {
                table(
                    &[
                        "ID",
                        "NAME",
                        "REGION",
                        "STATE",
                        "LIVENESS",
                        "LAST SEEN",
                        "CPU %",
                        "LOAD",
                        "MEM",
                        "DISK",
                        "CHECKS",
                        "BUFFERED",
                        "VERSION",
                    ],
                    values.iter().map(|a| {
                        let mut row = cells(
                            a,
                            &["id", "name", "region", "state", "liveness", "last_seen"],
                        );
                        row.extend(stats_cells(&a["stats"]));
                        row
                    }),
                )
            })
        }
        Command::Agents {
            action: Some(action),
        } => {
            let agent = match action {
                AgentsAction::Approve { id } => client.approve_agent(pb::AgentRef { id }).await,
                AgentsAction::Suspend { id } => client.suspend_agent(pb::AgentRef { id }).await,
            }
            .map_err(status)?
            .into_inner();
            let v = agent_json(&agent);
            output(json, &v, || fields(&v))
        }
        Command::Maintenance { action } => {
            let m = match action {
                MaintenanceAction::Start {
                    equipment,
                    duration,
                    reason,
                } => {
                    let duration_ms = duration.map_or(0, |d| d.as_millis() as u64);
                    if duration == Some(std::time::Duration::ZERO) {
                        bail!("--for must be more than 0s");
                    }
                    client
                        .start_maintenance(pb::StartMaintenanceRequest {
                            equipment,
                            duration_ms,
                            reason,
                        })
                        .await
                }
                MaintenanceAction::End { equipment } => {
                    client
                        .end_maintenance(pb::EndMaintenanceRequest { equipment })
                        .await
                }
            }
            .map_err(status)?
            .into_inner();
            let v = json!({
                "equipment": m.equipment,
                "starts_at": time(m.starts_at.as_ref()),
                "ends_at": time(m.ends_at.as_ref()),
                "reason": m.reason,
                "active": m.active,
            });
            output(json, &v, || fields(&v))
        }
        Command::Check { service } => {
            let results = client
                .check_now(pb::CheckNowRequest { service })
                .await
                .map_err(status)?
                .into_inner()
                .results;
            let values: Vec<Value> = results
                .iter()
                .map(|r| {
                    json!({
                        "agent": r.agent,
                        "ok": r.ok,
                        "status_code": r.status_code,
                        "error_kind": non_empty(&r.error_kind),
                        "error": non_empty(&r.error_detail),
                        "latency_ms": r.latency_ms,
                        "time": time(r.time.as_ref()),
                    })
                })
                .collect();
            output(json, &Value::Array(values.clone()), || {
                table(
                    &["AGENT", "OK", "CODE", "ERROR", "LATENCY MS"],
                    values
                        .iter()
                        .map(|r| cells(r, &["agent", "ok", "status_code", "error", "latency_ms"])),
                )
            })
        }
        Command::Events { follow, after } => {
            let mut stream = client
                .watch_events(pb::WatchEventsRequest { after_seq: after })
                .await
                .map_err(status)?
                .into_inner();
            let mut collected = Vec::new();
            let mut stdout = std::io::stdout();
            loop {
                // Without --follow, stop once the backlog is printed.
                let next = if follow {
                    stream.message().await.map_err(status)?
                } else {
                    match tokio::time::timeout(
                        std::time::Duration::from_millis(500),
                        stream.message(),
                    )
                    .await
                    {
                        Ok(m) => m.map_err(status)?,
                        Err(_) => None,
                    }
                };
                let Some(e) = next else { break };
                let v = event_json(&e);
                if follow {
                    let line = if json { v.to_string() } else { event_line(&v) };
                    writeln!(stdout, "{line}").context("cannot write to stdout")?;
                    stdout.flush().context("cannot write to stdout")?;
                } else {
                    collected.push(v);
                }
            }
            if !follow {
                let values = collected;
                output(json, &Value::Array(values.clone()), || {
                    values.iter().map(event_line).collect::<Vec<_>>().join("\n")
                })?;
            }
            Ok(())
        }
    }
}

fn output(json: bool, value: &Value, human: impl FnOnce() -> String) -> anyhow::Result<()> {
    let text = if json {
        serde_json::to_string_pretty(value).context("cannot encode JSON")?
    } else {
        human()
    };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{text}").context("cannot write to stdout")?;
    Ok(())
}

fn time(t: Option<&Timestamp>) -> Value {
    match t {
        Some(t) => Value::String(rfc3339(t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)),
        None => Value::Null,
    }
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

fn service_json(s: &pb::Service) -> Value {
    json!({
        "id": s.id,
        "url": s.url,
        "equipment": s.equipment,
        "state": s.state,
        "ok": s.ok,
        "last_status_code": s.last_status_code,
        "last_error_kind": non_empty(&s.last_error_kind),
        "last_error": non_empty(&s.last_error_detail),
        "last_check_at": time(s.last_check_at.as_ref()),
        "last_latency_ms": s.last_latency_ms,
        "open_request": s.open_request,
        "maintenance_until": time(s.maintenance_until.as_ref()),
    })
}

fn request_json(r: &pb::Request) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "priority": r.priority,
        "description": r.description,
        "stage": r.stage,
        "service": r.service,
        "agent": r.agent,
        "equipment": r.equipment,
        "url": non_empty(&r.url),
        "opened_at": time(r.opened_at.as_ref()),
        "closed_at": time(r.closed_at.as_ref()),
        "close_reason": non_empty(&r.close_reason),
        "notes": r.notes.iter().map(|n| json!({"author": n.author, "time": time(n.time.as_ref()), "text": n.text})).collect::<Vec<_>>(),
    })
}

fn agent_json(a: &pb::Agent) -> Value {
    let stats: Value = if a.stats_json.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&a.stats_json).unwrap_or(Value::Null)
    };
    json!({
        "id": a.id,
        "name": a.name,
        "region": a.region,
        "state": a.state,
        "liveness": a.liveness,
        "last_seen": time(a.last_seen.as_ref()),
        "labels": a.labels,
        "stats": stats,
    })
}

fn event_json(e: &pb::Event) -> Value {
    let payload: Value = serde_json::from_str(&e.payload_json).unwrap_or(Value::Null);
    json!({
        "seq": e.seq,
        "time": time(e.time.as_ref()),
        "type": e.r#type,
        "subject": e.subject,
        "payload": payload,
    })
}

fn event_line(v: &Value) -> String {
    format!(
        "{}  {}  {:<22} {}",
        text(&v["seq"]),
        text(&v["time"]),
        text(&v["type"]),
        text(&v["subject"])
    )
}

/// CPU, load, memory, disk, checks, buffered results and version of an agent.
fn stats_cells(stats: &Value) -> Vec<String> {
    if stats.is_null() {
        return vec!["-".into(); 7];
    }
    let num = |k: &str| stats[k].as_f64().unwrap_or(0.0);
    let share = |used: &str, total: &str| {
        if num(total) > 0.0 {
            format!("{:.0}%", 100.0 * num(used) / num(total))
        } else {
            "-".into()
        }
    };
    vec![
        format!("{:.1}", num("cpu_percent")),
        format!("{:.2}", num("load1")),
        share("mem_used_bytes", "mem_total_bytes"),
        share("disk_used_bytes", "disk_total_bytes"),
        format!("{}/{}", num("checks_in_flight"), num("checks_assigned")),
        format!("{}", num("results_buffered")),
        text(&stats["agent_version"]),
    ]
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn cells(v: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| text(&v[*k]).lines().next().unwrap_or("").to_owned())
        .collect()
}

fn table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

fn fields(v: &Value) -> String {
    let Value::Object(map) = v else {
        return text(v);
    };
    let width = map.keys().map(String::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for (k, val) in map {
        match val {
            Value::Array(items) if k == "notes" => {
                out.push(format!("{k:<width$}  {}", items.len()));
                for n in items {
                    out.push(format!(
                        "  {} {}: {}",
                        text(&n["time"]),
                        text(&n["author"]),
                        text(&n["text"])
                    ));
                }
            }
            Value::Object(_) => out.push(format!("{k:<width$}  {val}")),
            _ => {
                let t = text(val);
                let mut lines = t.lines();
                out.push(format!("{k:<width$}  {}", lines.next().unwrap_or("")));
                for l in lines {
                    out.push(format!("{:<width$}  {l}", ""));
                }
            }
        }
    }
    out.join("\n")
}
