//! [`Agent`]: one running `picket-agent` for one test.
//!
//! Each agent has its own temp dir (state dir + `agent.log`) and is killed
//! when the guard drops. Starting returns at once; wait for registration with
//! [`crate::Collector::wait_agent_live`].

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::Context as _;

use crate::collector::open_log;
use crate::{Collector, ENROLLMENT_TOKEN, LOG_FILTER, LogRegistration};

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
        let dir = crate::temp_dir(&format!("picket-e2e-agent-{name}-"))?;
        let state_dir = dir.path().join("state");
        std::fs::create_dir_all(&state_dir)?;
        let log_path = dir.path().join("agent.log");
        let mut args: Vec<OsString> = vec![
            "--collector".into(),
            collector.grpc_url().into(),
            "--enrollment-token".into(),
            ENROLLMENT_TOKEN.into(),
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
        let log = open_log(&self.log_path, &format!("agent start #{}", self.spawns))?;
        let child = Command::new(crate::binary("picket-agent")?)
            .args(&self.args)
            .current_dir(self.dir.path())
            .env("PICKET_LOG", LOG_FILTER)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("failed to spawn picket-agent")?;
        self.child = Some(child);
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

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process and starts it again with the same flags and state
    /// dir (same identity).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }
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
