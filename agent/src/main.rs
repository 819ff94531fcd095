//! `picket-agent`: parses flags (with `PICKET_*` environment fallbacks),
//! sets up logging, and runs the agent until SIGTERM or ctrl-c. Under
//! systemd it notifies readiness and feeds the watchdog (`supervise`).
//!
//! Exit status: 0 on a clean stop, 1 on a runtime error, 2 on bad usage or
//! configuration, 3 when the collector refuses the agent for good.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use picket_agent::RunError;
use picket_agent::config::{AgentConfig, Cli};
use picket_agent::link::LinkError;

fn main() -> ExitCode {
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        eprintln!("picket-agent: a rustls crypto provider was already installed");
    }
    let cli = Cli::parse();
    init_tracing(&cli.log_level);
    let config = match AgentConfig::from_cli(cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("picket-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match picket_agent::runtime()
        .build()
        .context("failed to start the tokio runtime")
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("picket-agent: {e:#}");
            return ExitCode::from(1);
        }
    };
    let status = picket_agent::status::Status::default();
    let run = async {
        supervise(&status);
        picket_agent::run_with_status(config, status.clone(), shutdown_signal()).await
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Refused(LinkError::Refused(reason))) => {
            eprintln!("picket-agent: refused by collector: {reason}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("picket-agent: {:#}", anyhow::Error::new(e));
            ExitCode::from(1)
        }
    }
}

/// Under systemd (`NOTIFY_SOCKET`): `READY=1` once the first connection
/// attempt ended, then, with `WatchdogSec`, `WATCHDOG=1` while the actors
/// run (`picket_sdnotify`).
fn supervise(status: &picket_agent::status::Status) {
    let notifier = match picket_sdnotify::Notifier::from_env() {
        Ok(Some(n)) => n,
        Ok(None) => return,
        Err(e) => {
            eprintln!("picket-agent: bad NOTIFY_SOCKET ({e}); not notifying systemd");
            return;
        }
    };
    let status = status.clone();
    tokio::spawn(async move {
        let connected = status.first_attempt().await;
        let text = if connected {
            "connected to the collector"
        } else {
            "collector not reached yet; retrying"
        };
        if let Err(e) = notifier.ready(text) {
            tracing::warn!(error = %e, "cannot notify systemd of readiness");
        }
        if let Some(every) = picket_sdnotify::watchdog_interval() {
            picket_sdnotify::watchdog(notifier, every, || {
                let ok = status.healthy();
                async move { ok }
            })
            .await;
        }
    });
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("picket-agent: bad log filter {filter:?} ({e}); using \"info\"");
        tracing_subscriber::EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Completes on SIGTERM or ctrl-c.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
