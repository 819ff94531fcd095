//! [`Collector`]: one running `picket-collector` for one test (`picketctl`
//! over it is in [`crate::ctl`]).
//!
//! Each collector lives in its own temp dir (`picket.toml`, `picket.db`,
//! `collector.log`, `ports.json`) and is killed when the guard drops. It
//! binds loopback port 0 and reports the ports it got (see
//! [`crate::ports`]); [`Collector::start`] returns once `/readyz` answers
//! 200.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::AsyncReadExt as _;

use crate::config::{Config, HarnessTls, Placeholders};
use crate::ports::{ListenAddrs, PortHold};
pub use crate::status::http_get_status;
use crate::{ADMIN_TOKEN, ENROLLMENT_TOKEN, LOG_FILTER, LogRegistration, spawn_logged};

/// How long a collector gets to become ready.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// How long a collector gets to exit on SIGTERM before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// How long a collector gets to refuse a bad config and exit.
const REFUSE_WITHIN: Duration = Duration::from_secs(10);

/// A running `picket-collector` (killed on drop).
#[derive(Debug)]
pub struct Collector {
    /// Holds the config, the database and the log; removed on drop unless
    /// `PICKET_E2E_KEEP` is set.
    dir: tempfile::TempDir,
    /// The TOML template, filled again with [`Collector::listen`] at each
    /// start.
    template: String,
    config_path: PathBuf,
    log_path: PathBuf,
    /// Where the collector reports the addresses it bound
    /// (`--ports-file`).
    ports_path: PathBuf,
    /// What the config names: port 0 until the first run reports its
    /// ports, then those ports (restarts bind them again).
    listen: ListenAddrs,
    /// Keeps [`Collector::listen`]'s ports while no process has them
    /// (from the first exit on).
    hold: Option<PortHold>,
    /// The process, `None` between [`Collector::kill`] and a new start.
    child: Option<Child>,
    /// Number of times the process was spawned (marks restarts in the log).
    spawns: u32,
    /// Keeps the log in the registry used by failure messages.
    _log: LogRegistration,
    /// TLS on the listeners, as the harness's clients reach them.
    tls: Option<HarnessTls>,
}

/// What a collector that refused its config left behind.
#[derive(Debug)]
pub struct Refusal {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stderr: String,
    /// Absolute path of the config file it was given.
    pub config_path: PathBuf,
    /// The config text as written (placeholders filled).
    pub config_text: String,
    /// Keeps the temp dir alive while the refusal is inspected.
    _dir: tempfile::TempDir,
}

impl Collector {
    /// Starts a collector on `config` and waits until it is ready.
    pub async fn start(config: Config) -> anyhow::Result<Collector> {
        let mut collector = Collector::prepare(&config.render())?;
        collector.tls = config.harness_tls().cloned();
        collector.spawn()?;
        collector.wait_ready().await?;
        Ok(collector)
    }

    /// Starts a collector on a TOML template (see [`crate::config`] for the
    /// placeholders) and waits until it is ready. The listen placeholders
    /// name port 0; the collector reports the ports it got.
    pub async fn start_toml(template: &str) -> anyhow::Result<Collector> {
        let mut collector = Collector::prepare(template)?;
        collector.spawn()?;
        collector.wait_ready().await?;
        Ok(collector)
    }

    /// Runs a collector on a config it is expected to refuse: returns its
    /// exit code and stderr, or fails if it is still running after a while
    /// (it accepted the config).
    pub async fn refuses(template: &str) -> anyhow::Result<Refusal> {
        let dir = crate::temp_dir("picket-e2e-config-")?;
        let config_text = placeholders(dir.path(), ListenAddrs::ANY_PORT).fill(template);
        let config_path = dir.path().join("picket.toml");
        std::fs::write(&config_path, &config_text)?;
        let mut child = tokio::process::Command::new(crate::binary("picket-collector")?)
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .env("PICKET_LOG", LOG_FILTER)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("failed to spawn picket-collector")?;
        let mut stderr_pipe = child.stderr.take().context("no stderr pipe")?;
        let mut stderr = Vec::new();
        let exited = tokio::time::timeout(REFUSE_WITHIN, async {
            stderr_pipe.read_to_end(&mut stderr).await?;
            child.wait().await
        })
        .await;
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        match exited {
            Ok(status) => Ok(Refusal {
                code: status?.code(),
                stderr,
                config_path,
                config_text,
                _dir: dir,
            }),
            Err(_) => {
                let _ = child.kill().await;
                anyhow::bail!(
                    "picket-collector did not exit within {REFUSE_WITHIN:?}: it accepted a \
                     config it should refuse\n--- config ---\n{config_text}\n--- stderr so far \
                     ---\n{stderr}"
                )
            }
        }
    }

    fn prepare(template: &str) -> anyhow::Result<Collector> {
        let dir = crate::temp_dir("picket-e2e-collector-")?;
        let config_path = dir.path().join("picket.toml");
        let log_path = dir.path().join("collector.log");
        let ports_path = dir.path().join("ports.json");
        let log = LogRegistration::new(String::from("collector"), log_path.clone());
        Ok(Collector {
            dir,
            template: template.to_owned(),
            config_path,
            log_path,
            ports_path,
            listen: ListenAddrs::ANY_PORT,
            hold: None,
            child: None,
            spawns: 0,
            _log: log,
            tls: None,
        })
    }

    /// Writes the config naming [`Collector::listen`], removes the last
    /// run's ports file and spawns the process.
    fn spawn(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "collector is already running");
        let config = placeholders(self.dir.path(), self.listen).fill(&self.template);
        std::fs::write(&self.config_path, config).context("failed to write picket.toml")?;
        match std::fs::remove_file(&self.ports_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).context("failed to remove the last ports file");
            }
            _ => {}
        }
        self.spawns += 1;
        let child = spawn_logged(
            "picket-collector",
            [
                std::ffi::OsStr::new("--config"),
                self.config_path.as_os_str(),
                std::ffi::OsStr::new("--ports-file"),
                self.ports_path.as_os_str(),
            ],
            self.dir.path(),
            &self.log_path,
            &format!("collector start #{}", self.spawns),
        )?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the ports file names the bound addresses (recorded in
    /// [`Collector::listen`]); fails early with the log tail if the process
    /// exits meanwhile, or at `deadline`.
    pub(crate) async fn wait_bound(&mut self, deadline: Instant) -> anyhow::Result<()> {
        loop {
            if let Some(status) = self.try_wait()? {
                anyhow::bail!(
                    "picket-collector exited ({status}) before it bound its ports\n{}",
                    self.log_section()
                );
            }
            if let Some(addrs) = ListenAddrs::read(&self.ports_path)? {
                self.listen = addrs;
                return Ok(());
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "no ports file {} within {READY_WITHIN:?}\n{}",
                    self.ports_path.display(),
                    self.log_section()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// [`Collector::wait_bound`], then waits until `/readyz` answers 200;
    /// fails early with the log tail if the process exits meanwhile.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        self.wait_bound(deadline).await?;
        loop {
            if let Some(status) = self.try_wait()? {
                anyhow::bail!(
                    "picket-collector exited ({status}) before it was ready\n{}",
                    self.log_section()
                );
            }
            let ready = match self.tls.as_ref().filter(|t| t.http) {
                Some(t) => {
                    crate::status::https_get_status(self.listen.http, "/readyz", &t.client.ca).await
                }
                None => http_get_status(self.listen.http, "/readyz").await,
            };
            let last = match ready {
                Ok(200) => return Ok(()),
                Ok(code) => format!("HTTP {code}"),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "picket-collector not ready within {READY_WITHIN:?}: GET /readyz: {last}\n{}",
                    self.log_section()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn try_wait(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        match &mut self.child {
            Some(child) => {
                let status = child.try_wait()?;
                if status.is_some() {
                    self.reaped();
                }
                Ok(status)
            }
            None => Ok(None),
        }
    }

    /// The process is gone: hold its ports until the next start binds them.
    fn reaped(&mut self) {
        self.child = None;
        if self.hold.is_none() && self.listen.are_known() {
            self.hold = Some(PortHold::new(self.listen));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && matches!(self.try_wait(), Ok(None))
    }

    /// Kills the process with SIGKILL (a crash) and reaps it.
    pub fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
            self.reaped();
        }
    }

    /// Asks the process to stop with SIGTERM and waits for it (killing it
    /// after a while); returns its exit status, `None` if it was not running.
    ///
    /// The collector closes its listeners while it drains, before it exits;
    /// until the harness reaps it (polled every 50 ms) its ports are free
    /// for anyone. A test restarting a collector should prefer
    /// [`Collector::kill`] unless the clean stop is the point.
    pub async fn stop(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(child) = &self.child else {
            return Ok(None);
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + STOP_WITHIN;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                self.kill();
                anyhow::bail!(
                    "picket-collector did not exit within {STOP_WITHIN:?} of SIGTERM (killed)\n{}",
                    self.log_section()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the process again (after [`Collector::kill`] or
    /// [`Collector::stop`]) on the same config, ports and database, and
    /// waits until it is ready. The ports were held since the harness
    /// reaped the last run (see [`crate::ports`]).
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.spawn()?;
        self.wait_ready().await
    }

    /// SIGTERM, then start again on the same ports and database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.start_again().await
    }

    /// `http://127.0.0.1:PORT` of the gRPC listener (agents, picketctl);
    /// `https://` with TLS.
    pub fn grpc_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.listen.grpc)
    }

    /// The address of the gRPC listener.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.listen.grpc
    }

    /// The address of the HTTP listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.listen.http
    }

    /// What the harness's picketctl trusts and presents, with TLS.
    pub fn tls_client(&self) -> Option<&crate::pki::TlsClient> {
        self.tls.as_ref().map(|t| &t.client)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `http://127.0.0.1:PORT` of the HTTP listener.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.listen.http)
    }

    /// The `public_url` the collector uses (the base of webhook links): the
    /// harness leaves it to name the HTTP listener's port.
    pub fn public_url(&self) -> String {
        self.http_url()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of this collector's log.
    pub fn log_tail(&self, lines: usize) -> String {
        crate::file_tail(&self.log_path, lines)
    }

    fn log_section(&self) -> String {
        format!(
            "----- collector log {} -----\n{}",
            self.log_path.display(),
            self.log_tail(60)
        )
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_section());
        }
        self.kill();
    }
}

fn placeholders(dir: &Path, listen: ListenAddrs) -> Placeholders {
    Placeholders {
        grpc_listen: listen.grpc.to_string(),
        http_listen: listen.http.to_string(),
        public_url: format!("http://{}", listen.http),
        database: format!("sqlite://{}", dir.join("picket.db").display()),
        admin_token: ADMIN_TOKEN.to_owned(),
        enrollment_token: ENROLLMENT_TOKEN.to_owned(),
        dir: dir.display().to_string(),
    }
}

#[path = "collector_standby.rs"]
mod standby;
