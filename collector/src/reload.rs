//! What a reload request does while the collector runs.
//!
//! `picket-collector` turns each SIGHUP into a request on a [`Requests`]
//! channel handed to [`crate::run_reloadable`]; the actor here applies it.
//! Today a reload re-reads the TLS certificates, keys and client CA
//! ([`ServerTls::reload`]): connections already open keep theirs, new ones
//! get the new files, and files that do not load are refused with one log
//! line while the current ones stay. **The full configuration reload (a
//! later issue) hooks in at [`apply`]**, the one place a request lands.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::tls::ServerTls;

/// Reload requests, one `()` per request (SIGHUP in the binary).
pub type Requests = mpsc::Receiver<()>;

/// A request channel that never carries a request (tests, `run`).
pub fn none() -> Requests {
    mpsc::channel(1).1
}

/// Applies each request until `cancel` or until the senders are gone.
pub(crate) fn spawn(
    mut requests: Requests,
    tls: Option<Arc<ServerTls>>,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) {
    tasks.spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                request = requests.recv() => match request {
                    Some(()) => apply(tls.as_deref()),
                    None => return,
                },
            }
        }
    });
}

/// One reload: today the TLS files.
fn apply(tls: Option<&ServerTls>) {
    let Some(tls) = tls else {
        info!("reload requested: no TLS configured, nothing to reload");
        return;
    };
    match tls.reload() {
        Ok(()) => info!("reload: TLS certificates reloaded"),
        Err(e) => {
            error!(error = %e, "reload: TLS certificates refused; keeping the current ones")
        }
    }
}
