//! [`Agent`]: one running `picket-agent` for one test.
//!
//! Each agent has its own temp dir (state dir + `agent.log`, which holds
//! both stdout and stderr) and is killed when the guard drops, also when it
//! was paused with SIGSTOP. Starting returns at once; wait for registration
//! with [`crate::Collector::wait_agent_live`].
//!
//! [`Agent::start_with`] takes [`AgentOptions`]: another enrollment token,
//! a copy of another agent's state dir (a cloned instance), a source
//! address, extra flags.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::spawn_logged;
use crate::{Collector, ENROLLMENT_TOKEN, LogRegistration};

/// A running `picket-agent` (killed on drop).
#[derive(Debug)]
pub struct Agent {
    /// Holds the state dir and the log.
    dir: tempfile::TempDir,
    state_dir: PathBuf,
    log_path: PathBuf,
    name: String,
    /// The full command line after the binary, reused by restarts.
    args: Vec<OsString>,
    /// The process, `None` after [`Agent::kill`].
    child: Option<Child>,
    spawns: u32,
    /// Whether the process was stopped with SIGSTOP and not continued.
    paused: bool,
    /// Keeps the log in the registry used by failure messages.
    _log: LogRegistration,
}

impl Agent {
    /// Spawns `picket-agent --collector GRPC --enrollment-token T --region
    /// REGION --name NAME --state-dir DIR [--source-address IP] EXTRA…`.
    ///
    /// `extra` takes any further flags, e.g. `["--ca-cert", path]` (see
    /// [`Agent::start_with_ca`]).
    pub fn start(
        collector: &Collector,
        region: &str,
        name: &str,
        source_address: Option<IpAddr>,
        extra: &[&str],
    ) -> anyhow::Result<Agent> {
        Agent::start_with(
            collector,
            region,
            name,
            AgentOptions {
                source_address,
                extra: extra.iter().map(|s| (*s).to_owned()).collect(),
                ..AgentOptions::default()
            },
        )
    }

    /// [`Agent::start`] with [`AgentOptions`].
    pub fn start_with(
        collector: &Collector,
        region: &str,
        name: &str,
        options: AgentOptions,
    ) -> anyhow::Result<Agent> {
        let AgentOptions {
            source_address,
            enrollment_token,
            copy_state_from,
            extra,
        } = options;
        let dir = crate::temp_dir(&format!("picket-e2e-agent-{name}-"))?;
        let state_dir = dir.path().join("state");
        std::fs::create_dir_all(&state_dir)?;
        if let Some(from) = &copy_state_from {
            copy_dir(from, &state_dir).with_context(|| {
                format!(
                    "cannot copy the state dir {} to {}",
                    from.display(),
                    state_dir.display()
                )
            })?;
        }
        let log_path = dir.path().join("agent.log");
        let token = enrollment_token.unwrap_or_else(|| ENROLLMENT_TOKEN.to_owned());
        let mut args: Vec<OsString> = vec![
            "--collector".into(),
            collector.grpc_url().into(),
            "--enrollment-token".into(),
            token.into(),
            "--region".into(),
            region.into(),
            "--name".into(),
            name.into(),
            "--state-dir".into(),
            state_dir.clone().into(),
        ];
        if let Some(ip) = source_address {
            args.push("--source-address".into());
            args.push(ip.to_string().into());
        }
        args.extend(extra.iter().map(OsString::from));
        let log = LogRegistration::new(format!("agent {name}"), log_path.clone());
        let mut agent = Agent {
            dir,
            state_dir,
            log_path,
            name: name.to_owned(),
            args,
            child: None,
            spawns: 0,
            paused: false,
            _log: log,
        };
        agent.spawn()?;
        Ok(agent)
    }

    /// [`Agent::start`] trusting an extra root: `--ca-cert FILE`.
    pub fn start_with_ca(
        collector: &Collector,
        region: &str,
        name: &str,
        ca_pem: &Path,
    ) -> anyhow::Result<Agent> {
        let ca = ca_pem.to_str().context("CA path is not UTF-8")?.to_owned();
        Agent::start(collector, region, name, None, &["--ca-cert", &ca])
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.child.is_none(),
            "agent {} is already running",
            self.name
        );
        self.spawns += 1;
        let child = spawn_logged(
            "picket-agent",
            &self.args,
            self.dir.path(),
            &self.log_path,
            &format!("agent start #{}", self.spawns),
        )?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `--state-dir` (identity survives restarts through it).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn log_tail(&self, lines: usize) -> String {
        crate::file_tail(&self.log_path, lines)
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        match &mut self.child {
            Some(child) => Ok(child.try_wait()?),
            None => Ok(None),
        }
    }

    /// Kills the process (SIGKILL) and reaps it. A paused process is
    /// continued first, so nothing is left stopped behind a test.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.paused {
                let _ = signal(child.id(), "CONT");
                self.paused = false;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Freezes the process with SIGSTOP: it keeps its connections open but
    /// sends nothing (no heartbeats, no results) until [`Agent::resume`].
    pub fn pause(&mut self) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("agent {} is not running", self.name))?;
        signal(pid, "STOP")?;
        self.paused = true;
        Ok(())
    }

    /// Continues a process paused by [`Agent::pause`] (SIGCONT).
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("agent {} is not running", self.name))?;
        signal(pid, "CONT")?;
        self.paused = false;
        Ok(())
    }

    /// Whether the process has been started and has not exited (a paused
    /// process is running).
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && matches!(self.try_wait(), Ok(None))
    }

    /// Waits up to `within` for the process to exit by itself and returns
    /// its status; fails with the log tail if it is still running then.
    pub async fn wait_exit(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let started = Instant::now();
        loop {
            if self.child.is_none() {
                anyhow::bail!("agent {} is not running (killed?)", self.name);
            }
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if started.elapsed() >= within {
                anyhow::bail!(
                    "agent {} still running {within:?} after it should have exited\n\
                     ----- agent log {} -----\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail(60)
                );
            }
            tokio::time::sleep(crate::wait::POLL).await;
        }
    }

    /// The whole log (stdout and stderr of every start, with the harness's
    /// `===== picket-e2e: … =====` marker lines).
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Kills the process and starts it again with the same flags and state
    /// dir (same identity).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }
}

/// How to start an agent beyond region and name (see [`Agent::start_with`]).
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    /// `--source-address IP`: the probes' (and the link's) local address.
    pub source_address: Option<IpAddr>,
    /// `--enrollment-token`; [`ENROLLMENT_TOKEN`] when `None`.
    pub enrollment_token: Option<String>,
    /// Copies this directory (e.g. another agent's [`Agent::state_dir`])
    /// into the new agent's state dir before it starts: the same identity.
    pub copy_state_from: Option<PathBuf>,
    /// Any further flags.
    pub extra: Vec<String>,
}

/// `kill -SIG PID`.
fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .with_context(|| format!("failed to run kill -{sig} {pid}"))?;
    anyhow::ensure!(status.success(), "kill -{sig} {pid} failed: {status}");
    Ok(())
}

/// Copies the regular files of `from` into `to` (recursively), keeping
/// their permissions.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

impl Drop for Agent {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- agent {} log {} -----\n{}",
                self.name,
                self.log_path.display(),
                self.log_tail(60)
            );
        }
        self.kill();
    }
}
