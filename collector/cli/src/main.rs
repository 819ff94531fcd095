//! `picketctl`: the command line over the `picket.v1.Picket` API.
//!
//! Tables for people, `--json` for scripts (one JSON document: a list for
//! list commands, an object for single ones; `events --follow` prints one
//! object per line). Exit status: 0 success, 1 error (one line on stderr,
//! `picketctl: …`), 2 bad usage (clap's message).
//!
//! # Layout
//!
//! - this file: flags, dispatch to the command groups, exit status.
//! - [`client`]: connection to the collector, bearer token, gRPC errors.
//! - [`failover`]: `--collector URL1,URL2`, each tried until one answers.
//! - one module per command group: [`services`], [`requests`], [`agents`],
//!   [`maintenance`], [`check`], [`events`], [`webhooks`], [`reload`]; each calls the API and hands
//!   the answer to [`convert`] and [`render`].
//! - [`pages`]: `--limit` / `--page-size` and following `next_page_token`.
//! - [`convert`]: proto messages → the JSON documents scripts read.
//! - [`render`]: JSON or tables/lines for people; the only stdout writer.
//!
//! **Boundary**: this crate depends on `picket-proto` only, never on the
//! collector library; it sees the collector through the client API.

mod agents;
mod check;
mod client;
mod convert;
mod events;
mod failover;
mod heartbeats;
mod maintenance;
mod outcome;
mod pages;
mod reload;
mod render;
mod requests;
mod services;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Picket command line: services, requests, agents, maintenance.
#[derive(Parser)]
#[command(name = "picketctl", version = picket_proto::build::VERSION)]
struct Cli {
    /// The collector's gRPC address; several (a comma list or the flag
    /// repeated) are tried in order, following a standby's "leader is URL".
    #[arg(
        long,
        env = "PICKET_COLLECTOR",
        default_value = "http://127.0.0.1:7070",
        global = true,
        value_name = "URL[,URL...]"
    )]
    collector: Vec<String>,
    /// The admin bearer token (needed for changes).
    #[arg(long, env = "PICKET_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Extra trusted root certificate(s), PEM, for an https collector
    /// (added to the system roots).
    #[arg(long, env = "PICKET_CA_CERT", global = true, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Client certificate chain (PEM) for a collector that requires one.
    #[arg(
        long,
        env = "PICKET_CLIENT_CERT",
        global = true,
        value_name = "FILE",
        requires = "client_key"
    )]
    client_cert: Option<PathBuf>,
    /// Private key of --client-cert (PEM).
    #[arg(
        long,
        env = "PICKET_CLIENT_KEY",
        global = true,
        value_name = "FILE",
        requires = "client_cert"
    )]
    client_key: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Clone)]
enum Command {
    /// List services with their state.
    Services {
        #[command(flatten)]
        filter: services::Filter,
        #[command(flatten)]
        paging: pages::Paging,
    },
    /// Show one service.
    Service { id: String },
    /// List maintenance requests, or close one / add a note to one.
    Requests {
        #[command(flatten)]
        filter: requests::Filter,
        #[command(flatten)]
        paging: pages::Paging,
        #[command(subcommand)]
        action: Option<requests::Action>,
    },
    /// Show one request with its notes.
    Request { id: i64 },
    /// List agents, or approve / suspend one.
    Agents {
        #[command(flatten)]
        filter: agents::Filter,
        #[command(flatten)]
        paging: pages::Paging,
        #[command(subcommand)]
        action: Option<agents::Action>,
    },
    /// Push check-ins: list, show, approve, suspend, issue a token.
    Heartbeats {
        #[command(flatten)]
        paging: pages::Paging,
        #[command(subcommand)]
        action: Option<heartbeats::Action>,
    },
    /// Start or end maintenance of an equipment.
    Maintenance {
        #[command(subcommand)]
        action: maintenance::Action,
    },
    /// Probe a service from all its agents now.
    Check { service: String },
    /// List webhook receivers: pending, failed, delivered, disabled.
    Webhooks,
    /// List webhook deliveries, newest first, with attempts and last error.
    Deliveries {
        /// Only those whose last attempt failed (retrying or given up).
        #[arg(long)]
        failed: bool,
        /// Only this receiver's.
        #[arg(long, value_name = "NAME")]
        webhook: Option<String>,
        #[command(flatten)]
        paging: pages::Paging,
    },
    /// Print events (with --follow, keep printing new ones, resuming
    /// after the last one printed when the collector restarts).
    Events {
        #[arg(long)]
        follow: bool,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
    /// Have the collector re-read its configuration file (as SIGHUP does).
    Reload,
}

fn main() -> ExitCode {
    // Bad usage exits here with status 2.
    let cli = Cli::parse();
    let urls = match picket_proto::contract::collectors::parse_urls(&cli.collector) {
        Ok(urls) => urls,
        Err(e) => {
            eprintln!("picketctl: --collector {e}");
            return ExitCode::from(2);
        }
    };
    let done = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli, &urls)));
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("picketctl: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs the command against the first collector of `urls` that answers.
async fn run(cli: Cli, urls: &[String]) -> anyhow::Result<()> {
    let tls = client::TlsFiles {
        ca_cert: cli.ca_cert,
        client: cli.client_cert.zip(cli.client_key),
    };
    let (token, json, command) = (cli.token.as_deref(), cli.json, cli.command);
    let text = failover::first_answer(urls, async |url| {
        let mut client = client::connect(url, token, &tls).await?;
        dispatch(&mut client, command.clone(), json).await
    })
    .await?;
    match text {
        Some(text) => render::print(&text),
        None => Ok(()),
    }
}

/// One command on one collector: its output, or `None` when it printed
/// as it went (`events --follow`).
async fn dispatch(
    client: &mut client::Client,
    command: Command,
    json: bool,
) -> anyhow::Result<Option<String>> {
    let text = match command {
        Command::Services { filter, paging } => {
            services::list(client, filter, paging, json).await?
        }
        Command::Service { id } => services::show(client, id, json).await?,
        Command::Requests {
            filter,
            paging,
            action: None,
        } => requests::list(client, filter, paging, json).await?,
        Command::Requests {
            action: Some(action),
            ..
        } => requests::act(client, action, json).await?,
        Command::Request { id } => requests::show(client, id, json).await?,
        Command::Agents {
            filter,
            paging,
            action: None,
        } => agents::list(client, filter, paging, json).await?,
        Command::Agents {
            action: Some(action),
            ..
        } => agents::act(client, action, json).await?,
        Command::Heartbeats { paging, action } => {
            heartbeats::run(client, action, paging, json).await?
        }
        Command::Maintenance { action } => maintenance::run(client, action, json).await?,
        Command::Check { service } => check::run(client, service, json).await?,
        Command::Webhooks => webhooks::list(client, json).await?,
        Command::Deliveries {
            failed,
            webhook,
            paging,
        } => webhooks::deliveries(client, failed, webhook, paging, json).await?,
        Command::Events {
            follow: true,
            after,
        } => return events::follow(client, after, json).await.map(|()| None),
        Command::Events {
            follow: false,
            after,
        } => events::backlog(client, after, json).await?,
        Command::Reload => reload::run(client, json).await?,
    };
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paging flags `heartbeats` lists with, wherever they were given.
    fn heartbeats_paging(args: &[&str]) -> pages::Paging {
        let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Heartbeats { paging, action } = cli.command else {
            panic!("not heartbeats: {args:?}");
        };
        match action {
            Some(heartbeats::Action::List { paging: after, .. }) => after.or(paging),
            _ => paging,
        }
    }

    #[test]
    fn heartbeats_list_takes_its_paging_before_or_after_list() {
        for args in [
            &["picketctl", "heartbeats", "list", "--limit", "3"][..],
            &["picketctl", "heartbeats", "--limit", "3", "list"],
            &["picketctl", "heartbeats", "--limit", "3"],
        ] {
            assert_eq!(heartbeats_paging(args).limit, 3, "{args:?}");
        }
        let both = heartbeats_paging(&[
            "picketctl",
            "heartbeats",
            "--page-size",
            "7",
            "list",
            "--limit",
            "3",
        ]);
        assert_eq!((both.limit, both.page_size), (3, 7));
    }
}
