//! What a reload request does while the collector runs.
//!
//! A request comes from SIGHUP (`picket-collector` turns each into a `()`
//! on the [`Requests`] channel of its [`Source`]) or from the admin RPC
//! `Reload` ([`ReloadHandle::reload`], which gets the outcome back). One
//! task applies them one at a time, so reloads never overlap:
//!
//! 1. Re-read the file the collector was started with and validate it with
//!    every start-up rule ([`crate::config::load`], which also loads the
//!    TLS files). A refused file changes nothing: one log line with
//!    `FILE:LINE: reason`, `picket_config_last_reload_successful 0`.
//! 2. Keep what needs a restart as it runs ([`changes`]: listeners,
//!    database, TLS keys, a shorter heartbeat interval), named in the log
//!    line and the RPC answer.
//! 3. Hand each actor its part, as a diff it works out itself
//!    ([`apply`]), without dropping any agent stream; then re-read the TLS
//!    files, as every reload did before.
//!
//! Without a file (`run`, `run_with_clock`), a request re-reads the TLS
//! files only.

mod apply;
pub mod changes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::config::{self, Config, ConfigError};
use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::time::Clock;
use crate::tls::ServerTls;
pub(crate) use apply::Live;

/// Reload requests, one `()` per request (SIGHUP in the binary).
pub type Requests = mpsc::Receiver<()>;

/// A request channel that never carries a request (tests, `run`).
pub fn none() -> Requests {
    mpsc::channel(1).1
}

/// Where reloads read the configuration, and the SIGHUP requests.
pub struct Source {
    /// The file the collector was started with (`--config`).
    pub path: Option<PathBuf>,
    pub requests: Requests,
}

impl Source {
    /// Reloads re-read `path`; `requests` carries the SIGHUPs.
    pub fn file(path: impl Into<PathBuf>, requests: Requests) -> Source {
        Source {
            path: Some(path.into()),
            requests,
        }
    }

    /// No file: a request (there are none) would reload the TLS files.
    pub fn none() -> Source {
        Source {
            path: None,
            requests: none(),
        }
    }
}

/// What an applied reload left as it was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reloaded {
    /// Changed options that need a restart, by config key.
    pub restart_needed: Vec<String>,
}

/// Why a reload was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file is not valid: nothing was changed.
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("the collector was started without a configuration file")]
    NoFile,
    /// The catalog could not be stored; the rest was applied.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the collector is shutting down")]
    Stopped,
}

type Reply = oneshot::Sender<Result<Reloaded, ReloadError>>;

/// Asks the reload task for a reload and waits for its outcome.
#[derive(Clone)]
pub struct ReloadHandle {
    tx: mpsc::Sender<Reply>,
}

impl ReloadHandle {
    /// Reloads the configuration file now (after any reload under way).
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(reply)
            .await
            .map_err(|_| ReloadError::Stopped)?;
        rx.await.map_err(|_| ReloadError::Stopped)?
    }
}

/// A handle and the inbox the reload task reads its calls from.
pub(crate) fn channel() -> (ReloadHandle, mpsc::Receiver<Reply>) {
    let (tx, rx) = mpsc::channel(8);
    (ReloadHandle { tx }, rx)
}

/// `public_url` with port 0 replaced by the port the HTTP listener got;
/// any other URL unchanged. (Validation already parsed it and cut its
/// trailing slash.) The binary applies it at start, each reload again.
pub fn with_bound_port(public_url: &str, http: SocketAddr) -> String {
    let Ok(mut url) = reqwest::Url::parse(public_url) else {
        return public_url.to_owned();
    };
    if url.port() != Some(0) || url.set_port(Some(http.port())).is_err() {
        return public_url.to_owned();
    }
    url.as_str().trim_end_matches('/').to_owned()
}

/// The reload task's state: what runs now and whom to tell.
pub(crate) struct Reloader {
    pub path: Option<PathBuf>,
    /// The configuration running now (after the last good reload).
    pub running: Config,
    /// The HTTP listener's address, for `public_url` on port 0.
    pub http_addr: SocketAddr,
    pub tls: Option<Arc<ServerTls>>,
    pub live: Live,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
}

/// Applies each request (SIGHUP or RPC) in turn until `cancel` or until
/// every sender is gone.
pub(crate) fn spawn(
    mut reloader: Reloader,
    mut requests: Requests,
    mut calls: mpsc::Receiver<Reply>,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) {
    reloader.succeeded();
    tasks.spawn(async move {
        let (mut signals, mut rpc) = (true, true);
        while signals || rpc {
            tokio::select! {
                () = cancel.cancelled() => return,
                request = requests.recv(), if signals => match request {
                    Some(()) => {
                        let _ = reloader.reload().await;
                    }
                    None => signals = false,
                },
                call = calls.recv(), if rpc => match call {
                    Some(reply) => {
                        let _ = reply.send(reloader.reload().await);
                    }
                    None => rpc = false,
                },
            }
        }
    });
}

impl Reloader {
    /// One reload (see the module docs).
    async fn reload(&mut self) -> Result<Reloaded, ReloadError> {
        let Some(path) = self.path.clone() else {
            self.reload_tls();
            return Err(ReloadError::NoFile);
        };
        let mut new = match config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                error!("configuration reload refused: {e}; the running configuration stays");
                self.metrics.config_reload_successful.set(0);
                return Err(e.into());
            }
        };
        new.collector.public_url = with_bound_port(&new.collector.public_url, self.http_addr);
        let restart_needed: Vec<String> = changes::restart_needed(&self.running, &new)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let new = changes::running(&self.running, new);
        let applied = self.live.apply(&self.running, &new).await;
        self.running = new;
        self.reload_tls();
        // The old configuration (and the new one's parse) are gone.
        crate::memory::release_free_memory().await;
        if let Err(e) = applied {
            error!(error = %e, "configuration reload: the catalog was not stored; the rest was applied");
            self.metrics.config_reload_successful.set(0);
            return Err(e);
        }
        self.succeeded();
        info!(
            file = %path.display(),
            restart_needed = ?restart_needed,
            "configuration reloaded{}",
            if restart_needed.is_empty() { "" } else { "; some options need a restart and keep their running values" }
        );
        Ok(Reloaded { restart_needed })
    }

    /// Sets the reload metrics to a success now.
    fn succeeded(&self) {
        self.metrics.config_reload_successful.set(1);
        let now_s = self.clock.now_ms() / 1000;
        self.metrics.config_reload_success_time.set(now_s);
    }

    /// Re-reads the TLS files; on any error the current ones stay.
    fn reload_tls(&self) {
        let Some(tls) = &self.tls else {
            return;
        };
        match tls.reload() {
            Ok(()) => info!("reload: TLS certificates reloaded"),
            Err(e) => {
                error!(error = %e, "reload: TLS certificates refused; keeping the current ones")
            }
        }
    }
}
