//! `picket-collector --config picket.toml`: loads the configuration (exit 2
//! with `FILE:LINE: reason` when it is bad), binds the listeners it names,
//! and runs until SIGINT or SIGTERM. Each SIGHUP reloads the same file
//! (`picket_collector::reload`). `--check-config` validates the file with
//! every start-up rule, binds nothing, prints `FILE: ok` or the error and
//! exits 0 or 2.
//!
//! A listen address with port 0 gets a free port from the system; a
//! `public_url` naming port 0 (as the default derived from such an
//! `http_listen` does) then names the port the HTTP listener got, and
//! `--ports-file` tells scripts and test harnesses which ports those are.
//!
//! Under systemd (`NOTIFY_SOCKET`, `Type=notify`) it sends `READY=1` once
//! both listeners are served and, with `WatchdogSec`, `WATCHDOG=1` while
//! `picket_collector::health` passes. `picket-collector healthcheck [URL]`
//! GETs `/healthz` (a container's `HEALTHCHECK`; exit 0 or 1).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use picket_collector::reload::with_bound_port;
use tokio::net::TcpListener;

/// Picket collector: quorum double-checks, maintenance requests, webhooks.
#[derive(Parser)]
#[command(version = picket_proto::build::VERSION, about)]
struct Args {
    /// The collector's TOML configuration.
    #[arg(long, env = "PICKET_CONFIG")]
    config: PathBuf,
    /// Log filter, e.g. `info` or `picket_collector=debug`.
    #[arg(long, env = "PICKET_LOG", default_value = "info")]
    log_level: String,
    /// Once both listeners are bound, write the addresses they got to this
    /// file as JSON, `{"grpc": "127.0.0.1:7070", "http": "127.0.0.1:8080"}`
    /// (atomically: the file is complete whenever it exists; it is left in
    /// place at exit). Useful with port 0 in `grpc_listen` / `http_listen`.
    #[arg(long, env = "PICKET_PORTS_FILE")]
    ports_file: Option<PathBuf>,
    /// Validate the configuration (every start-up rule, TLS files loaded),
    /// print `FILE: ok` or the error, and exit 0 or 2 without binding
    /// anything.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("healthcheck") {
        let url = argv.next();
        let url = url
            .as_deref()
            .unwrap_or(picket_collector::healthcheck::DEFAULT_URL);
        return match picket_collector::healthcheck::check(url, Duration::from_secs(5)) {
            Ok(status) => {
                println!("{url}: {status}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("picket-collector: healthcheck: {e}");
                ExitCode::from(1)
            }
        };
    }
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match picket_collector::config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!("{}: ok", args.config.display());
        return ExitCode::SUCCESS;
    }
    init_tracing(&args.log_level);
    // Secrets print as `<redacted>` (`picket_collector::redact`).
    tracing::debug!(?config, "configuration loaded");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("picket-collector: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(config, &args.config, args.ports_file.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("picket-collector: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(
    mut config: picket_collector::config::Config,
    path: &Path,
    ports_file: Option<&Path>,
) -> anyhow::Result<()> {
    let grpc = bind("grpc_listen", config.collector.grpc_listen).await?;
    let http = bind("http_listen", config.collector.http_listen).await?;
    let grpc_addr = grpc.local_addr().context("grpc listener has no address")?;
    let http_addr = http.local_addr().context("http listener has no address")?;
    config.collector.public_url = with_bound_port(&config.collector.public_url, http_addr);
    if let Some(path) = ports_file {
        write_ports_file(path, grpc_addr, http_addr)
            .with_context(|| format!("failed to write the ports file {}", path.display()))?;
    }
    let listeners = picket_collector::Listeners { grpc, http };
    let reloads = picket_collector::reload::Source::file(path, reload_requests()?);
    let health = picket_collector::health::Health::default();
    supervise(&health, grpc_addr, http_addr)?;
    picket_collector::run_supervised(config, listeners, reloads, health, shutdown_signal())
        .await
        .context("collector failed")
}

/// Under systemd: `READY=1` once serving, then the watchdog fed while the
/// health check passes (`picket_sdnotify`).
fn supervise(
    health: &picket_collector::health::Health,
    grpc: SocketAddr,
    http: SocketAddr,
) -> anyhow::Result<()> {
    let Some(notifier) = picket_sdnotify::Notifier::from_env().context("bad NOTIFY_SOCKET")? else {
        return Ok(());
    };
    let health = health.clone();
    tokio::spawn(async move {
        health.wait_serving().await;
        if let Err(e) = notifier.ready(&format!("serving grpc {grpc}, http {http}")) {
            tracing::warn!(error = %e, "cannot notify systemd of readiness");
        }
        if let Some(every) = picket_sdnotify::watchdog_interval() {
            picket_sdnotify::watchdog(notifier, every, || health.check(every)).await;
        }
    });
    Ok(())
}

/// One reload request per SIGHUP (see `picket_collector::reload`).
fn reload_requests() -> anyhow::Result<picket_collector::reload::Requests> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup()).context("failed to listen for SIGHUP")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                // A request already queued covers this one too.
                let _ = tx.try_send(());
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    Ok(rx)
}

async fn bind(key: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on {key} {addr}"))
}

/// Writes `{"grpc": "ADDR", "http": "ADDR"}` to `PATH.tmp`, then renames it
/// to `path`, so that a reader never sees half a file.
fn write_ports_file(path: &Path, grpc: SocketAddr, http: SocketAddr) -> std::io::Result<()> {
    let text = serde_json::json!({ "grpc": grpc.to_string(), "http": http.to_string() });
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{text}\n"))?;
    std::fs::rename(&tmp, path)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_on_port_0_takes_the_bound_port() {
        let http: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        for (configured, expected) in [
            ("http://127.0.0.1:0", "http://127.0.0.1:4242"),
            (
                "https://picket.example:0/base",
                "https://picket.example:4242/base",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://picket.example", "https://picket.example"),
        ] {
            assert_eq!(with_bound_port(configured, http), expected, "{configured}");
        }
    }

    #[test]
    fn the_ports_file_is_json_with_both_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        std::fs::write(&path, "stale").unwrap();
        let grpc = "127.0.0.1:7070".parse().unwrap();
        let http = "[::1]:8080".parse().unwrap();
        write_ports_file(&path, grpc, http).unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            written,
            serde_json::json!({ "grpc": "127.0.0.1:7070", "http": "[::1]:8080" })
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temp file is left behind: {names:?}");
    }
}
