//! `picket-collector --config picket.toml`: loads the configuration (exit 2
//! with `FILE:LINE: reason` when it is bad), binds the listeners it names,
//! and runs until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;

/// Picket collector: quorum double-checks, maintenance requests, webhooks.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The collector's TOML configuration.
    #[arg(long, env = "PICKET_CONFIG")]
    config: PathBuf,
    /// Log filter, e.g. `info` or `picket_collector=debug`.
    #[arg(long, env = "PICKET_LOG", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match picket_collector::config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&args.log_level);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("picket-collector: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("picket-collector: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: picket_collector::config::Config) -> anyhow::Result<()> {
    let grpc = TcpListener::bind(config.collector.grpc_listen)
        .await
        .with_context(|| {
            format!(
                "failed to listen on grpc_listen {}",
                config.collector.grpc_listen
            )
        })?;
    let http = TcpListener::bind(config.collector.http_listen)
        .await
        .with_context(|| {
            format!(
                "failed to listen on http_listen {}",
                config.collector.http_listen
            )
        })?;
    let listeners = picket_collector::Listeners { grpc, http };
    picket_collector::run(config, listeners, shutdown_signal())
        .await
        .context("collector failed")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("picket-collector: invalid log filter {filter:?} ({e}); using info");
        tracing_subscriber::EnvFilter::new("info")
    });
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
