//! `picketctl` over a test [`Collector`]: [`ctl`] (`--json`, parsed),
//! [`ctl_raw`] (exit code and output as they are), and the collector's
//! typed shortcuts and predicate waits on services, requests and agents.

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::wait::{Seen, wait_until};
use crate::{ADMIN_TOKEN, Collector, DEADLINE};

/// How long one picketctl invocation may take.
const CTL_WITHIN: Duration = Duration::from_secs(15);

/// What one `picketctl` run produced.
#[derive(Debug, Clone)]
pub struct CtlOutput {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Collector {
    /// `picketctl … ARGS --json`, parsed; see [`ctl`].
    pub async fn ctl(&self, args: &[&str]) -> anyhow::Result<Value> {
        ctl(self, args).await
    }

    /// `picketctl … ARGS` as given; see [`ctl_raw`].
    pub async fn ctl_raw(&self, args: &[&str]) -> anyhow::Result<CtlOutput> {
        ctl_raw(self, args).await
    }

    /// `services --json`: the list of services.
    pub async fn services(&self) -> anyhow::Result<Vec<Value>> {
        list(self.ctl(&["services"]).await?, "services")
    }

    /// `service ID --json`.
    pub async fn service(&self, id: &str) -> anyhow::Result<Value> {
        self.ctl(&["service", id]).await
    }

    /// `requests --json`: every request, open or done.
    pub async fn requests(&self) -> anyhow::Result<Vec<Value>> {
        list(self.ctl(&["requests"]).await?, "requests")
    }

    /// `requests --open --json`.
    pub async fn open_requests(&self) -> anyhow::Result<Vec<Value>> {
        list(self.ctl(&["requests", "--open"]).await?, "requests --open")
    }

    /// `request ID --json`.
    pub async fn request(&self, id: i64) -> anyhow::Result<Value> {
        self.ctl(&["request", &id.to_string()]).await
    }

    /// `agents --json`.
    pub async fn agents(&self) -> anyhow::Result<Vec<Value>> {
        list(self.ctl(&["agents"]).await?, "agents")
    }

    /// Waits (up to [`DEADLINE`]) until `service ID` satisfies `pred`, and
    /// returns it. `what` says what is awaited, for the failure message.
    pub async fn wait_service(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        self.wait_service_within(DEADLINE, id, what, pred).await
    }

    /// [`Collector::wait_service`] with an explicit deadline.
    pub async fn wait_service_within(
        &self,
        within: Duration,
        id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        wait_until(within, &format!("service {id}: {what}"), async || {
            let service = self.service(id).await?;
            Ok::<_, anyhow::Error>(if pred(&service) {
                Seen::Ready(service)
            } else {
                Seen::Pending(service.to_string())
            })
        })
        .await
    }

    /// Waits until the service is in `state` and returns it.
    pub async fn wait_state(&self, id: &str, state: &str) -> anyhow::Result<Value> {
        self.wait_service(id, &format!("state {state}"), |s| s["state"] == state)
            .await
    }

    /// Waits until the agent called `name` is active and live; returns it.
    pub async fn wait_agent_live(&self, name: &str) -> anyhow::Result<Value> {
        wait_until(
            DEADLINE,
            &format!("agent {name} active and live"),
            async || {
                let agents = self.agents().await?;
                let agent = agents.iter().find(|a| a["name"] == name).cloned();
                Ok::<_, anyhow::Error>(match agent {
                    Some(a) if a["state"] == "active" && a["liveness"] == "live" => Seen::Ready(a),
                    _ => Seen::Pending(Value::from(agents).to_string()),
                })
            },
        )
        .await
    }
}

/// Runs `picketctl --collector URL --token ADMIN ARGS --json` and parses its
/// stdout; fails (with stderr and the process logs) on a non-zero exit or
/// output that is not JSON.
pub async fn ctl(collector: &Collector, args: &[&str]) -> anyhow::Result<Value> {
    let mut full: Vec<&str> = args.to_vec();
    full.push("--json");
    let out = ctl_raw(collector, &full).await?;
    if out.code != Some(0) {
        anyhow::bail!(
            "picketctl {} exited with {:?}: {}",
            full.join(" "),
            out.code,
            out.stderr.trim()
        );
    }
    serde_json::from_str(&out.stdout).with_context(|| {
        format!(
            "picketctl {} printed something that is not JSON: {:?}",
            full.join(" "),
            out.stdout
        )
    })
}

/// Runs `picketctl --collector URL --token ADMIN ARGS` (no `--json` added)
/// and returns its exit code, stdout and stderr, whatever they are.
pub async fn ctl_raw(collector: &Collector, args: &[&str]) -> anyhow::Result<CtlOutput> {
    let child = tokio::process::Command::new(crate::binary("picketctl")?)
        .arg("--collector")
        .arg(collector.grpc_url())
        .arg("--token")
        .arg(ADMIN_TOKEN)
        .args(collector.tls_client().map(|t| t.args()).unwrap_or_default())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("failed to spawn picketctl")?;
    let output = tokio::time::timeout(CTL_WITHIN, child.wait_with_output())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "picketctl {} did not finish within {CTL_WITHIN:?}",
                args.join(" ")
            )
        })??;
    Ok(CtlOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn list(value: Value, what: &str) -> anyhow::Result<Vec<Value>> {
    match value {
        Value::Array(items) => Ok(items),
        other => anyhow::bail!("picketctl {what} --json did not print a list: {other}"),
    }
}
