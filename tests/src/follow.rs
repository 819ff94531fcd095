//! `picketctl events --follow --json` as a long-running process: a test
//! reads the events it prints, one JSON object per line, as they come, and
//! what it says on stderr.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use crate::{ADMIN_TOKEN, Collector};

/// A running `picketctl events --follow --json`; killed when dropped.
pub struct Follower {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
}

impl Follower {
    /// Starts following `collector`'s events after `after`.
    pub fn start(collector: &Collector, after: u64) -> anyhow::Result<Follower> {
        let mut child = tokio::process::Command::new(crate::binary("picketctl")?)
            .arg("--collector")
            .arg(collector.grpc_url())
            .arg("--token")
            .arg(ADMIN_TOKEN)
            .args(collector.tls_client().map(|t| t.args()).unwrap_or_default())
            .args([
                "events",
                "--follow",
                "--json",
                "--after",
                &after.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("failed to spawn picketctl events --follow")?;
        let stdout = child.stdout.take().context("picketctl has no stdout")?;
        let stderr = child.stderr.take().context("picketctl has no stderr")?;
        let said = Arc::new(Mutex::new(String::new()));
        let sink = said.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap_or_else(|p| p.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        Ok(Follower {
            child,
            lines: BufReader::new(stdout).lines(),
            stderr: said,
        })
    }

    /// The next event printed, parsed; fails if none comes `within`, if the
    /// process ends, or if the line is not JSON.
    pub async fn next(&mut self, within: Duration) -> anyhow::Result<Value> {
        let line = tokio::time::timeout(within, self.lines.next_line())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "picketctl events --follow printed nothing within {within:?}; stderr: {}",
                    self.stderr()
                )
            })?
            .context("reading picketctl's stdout")?;
        let Some(line) = line else {
            let status = self.child.try_wait()?;
            anyhow::bail!(
                "picketctl events --follow ended ({status:?}); stderr: {}",
                self.stderr()
            );
        };
        serde_json::from_str(&line)
            .with_context(|| format!("picketctl events --follow printed {line:?}"))
    }

    /// The next event printed of type `kind`; events of other types before
    /// it are returned too, in order, with it last.
    pub async fn until(&mut self, kind: &str, within: Duration) -> anyhow::Result<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next(left).await.with_context(|| {
                format!("waiting for a {kind} event after {} others", seen.len())
            })?;
            let done = event["type"] == kind;
            seen.push(event);
            if done {
                return Ok(seen);
            }
        }
    }

    /// Everything it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}
