//! A real PostgreSQL server for tests: [`PgServer`], started from the
//! installed server binaries (Debian's `postgresql-15`, or `PICKET_PG_BIN`)
//! in a temp directory of its own, on loopback only.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root the
//! server (and `initdb`) run as the `postgres` system user, whose uid and
//! gid come from `/etc/passwd`. `initdb` runs once per machine into a
//! template directory (guarded by a file lock, so parallel test processes
//! wait for the first); each server copies it, which takes a fraction of a
//! second. The server listens on `127.0.0.1` on a port it tries at random
//! (a port someone else holds makes it fail to bind, and the next try takes
//! another: no port is picked by binding and freeing it), and on a Unix
//! socket in its directory. It is ready when its log says so, not after a
//! sleep. Its durability settings are relaxed (`fsync = off`): a killed
//! *server* loses nothing committed, only a crash of the machine would.
//!
//! Dropping a [`PgServer`] kills it and removes its directory.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where Debian installs the PostgreSQL 15 server binaries.
pub const DEFAULT_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// How long a start may take before it counts as failed.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A test PostgreSQL server could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "PostgreSQL server binaries not found in {0} (install postgresql-15, or set PICKET_PG_BIN)"
    )]
    Missing(PathBuf),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} failed: {output}")]
    Failed { what: String, output: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let what = what.into();
    move |source| PgError::Io { what, source }
}

/// A running PostgreSQL server in a temp directory.
pub struct PgServer {
    root: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl PgServer {
    /// The directory of the server binaries: `PICKET_PG_BIN` or
    /// [`DEFAULT_BIN_DIR`].
    pub fn bin_dir() -> PathBuf {
        std::env::var_os("PICKET_PG_BIN")
            .map_or_else(|| PathBuf::from(DEFAULT_BIN_DIR), PathBuf::from)
    }

    /// Whether the server binaries are installed.
    pub fn available() -> bool {
        Self::bin_dir().join("postgres").is_file()
    }

    /// Starts a fresh server (blocking; about a second once the template
    /// exists). Its superuser is `postgres`, with trust authentication on
    /// loopback, and it has a database called `postgres`.
    pub fn start() -> Result<PgServer, PgError> {
        let bin = Self::bin_dir();
        if !bin.join("postgres").is_file() {
            return Err(PgError::Missing(bin));
        }
        let owner = server_user();
        let template = template(&bin, owner)?;
        let root = unique_dir()?;
        copy_dir(&template, &root.join("data"))?;
        if let Some((uid, gid)) = owner {
            for dir in [&root, &root.join("data")] {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                    .map_err(io(format!("chown {}", dir.display())))?;
            }
        }
        let mut server = PgServer {
            root,
            port: 0,
            child: None,
        };
        for _ in 0..20 {
            server.port = rand::random_range(20_000..60_000);
            if server.spawn()? {
                return Ok(server);
            }
        }
        Err(PgError::Failed {
            what: "starting postgres on a free port".into(),
            output: server.log_tail(),
        })
    }

    /// Starts the server again on the same data and port after
    /// [`PgServer::stop`] or [`PgServer::kill`].
    pub fn start_again(&mut self) -> Result<(), PgError> {
        if self.spawn()? {
            Ok(())
        } else {
            Err(PgError::Failed {
                what: format!("restarting postgres on port {}", self.port),
                output: self.log_tail(),
            })
        }
    }

    /// Spawns the server and waits until it accepts connections; false
    /// when it could not bind its port.
    fn spawn(&mut self) -> Result<bool, PgError> {
        let mut command = Command::new(Self::bin_dir().join("postgres"));
        command
            .arg("-D")
            .arg(self.root.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.root)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=100", "-c", "shared_buffers=32MB"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = server_user() {
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().map_err(io("spawning postgres"))?;
        let stderr = child.stderr.take();
        let log_path = self.root.join("postgres.log");
        let (ready_tx, ready) = mpsc::channel::<bool>();
        // Copies the server's log to a file, and says when it is ready (or
        // could not bind); keeps draining the pipe afterwards.
        std::thread::spawn(move || {
            let Some(stderr) = stderr else { return };
            let mut log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .ok();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(log) = log.as_mut() {
                    let _ = writeln!(log, "{line}");
                }
                if line.contains("ready to accept connections") {
                    let _ = ready_tx.send(true);
                } else if line.contains("could not bind")
                    || line.contains("could not create any TCP/IP sockets")
                {
                    let _ = ready_tx.send(false);
                }
            }
        });
        let outcome = ready.recv_timeout(START_LIMIT);
        if outcome == Ok(true) {
            self.child = Some(child);
            return Ok(true);
        }
        let _ = child.kill();
        let _ = child.wait();
        match outcome {
            Ok(_) => Ok(false),
            Err(_) => Err(PgError::Failed {
                what: "postgres did not become ready".into(),
                output: self.log_tail(),
            }),
        }
    }

    /// The TCP port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, PgError> {
        let output = Command::new(Self::bin_dir().join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(name)
            .output()
            .map_err(io("running createdb"))?;
        if !output.status.success() {
            return Err(PgError::Failed {
                what: format!("createdb {name}"),
                output: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(self.url(name))
    }

    /// Kills the server (SIGKILL: a crash) and waits for it to end.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server the fast way (SIGINT: transactions are rolled
    /// back, clients disconnected) and waits for it to end.
    pub fn stop(&mut self) {
        self.signal("-INT");
    }

    /// Sends `signal` to the server and waits for it to end.
    fn signal(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Immediate shutdown: quick, and unlike SIGKILL it lets the server
        // reap its processes and free its shared memory.
        self.signal("-QUIT");
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The `postgres` user's uid and gid when this process runs as root (the
/// server refuses to); `None` otherwise (it runs as the current user).
fn server_user() -> Option<(u32, u32)> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?;
    if uid != "0" {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let mut fields = line.split(':').skip(2);
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some((uid, gid))
}

/// A new empty directory under the temp dir.
fn unique_dir() -> Result<PathBuf, PgError> {
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let dir = base.join(format!(
            "picket-pg-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(format!("creating {}", dir.display()))(e)),
        }
    }
    Err(PgError::Failed {
        what: "creating a temp dir".into(),
        output: String::new(),
    })
}

/// The initdb'd template data directory, made once per machine and user.
fn template(bin: &Path, owner: Option<(u32, u32)>) -> Result<PathBuf, PgError> {
    let base = std::env::temp_dir().join(format!("picket-pg-template-{}", version_tag(bin)));
    let done = base.join("ready");
    fs::create_dir_all(&base).map_err(io(format!("creating {}", base.display())))?;
    let lock = fs::File::create(base.join("lock")).map_err(io("creating the template lock"))?;
    lock.lock().map_err(io("locking the template"))?;
    if done.exists() {
        return Ok(base.join("data"));
    }
    let data = base.join("data");
    let _ = fs::remove_dir_all(&data);
    fs::create_dir(&data).map_err(io(format!("creating {}", data.display())))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&base, Some(uid), Some(gid)).map_err(io("chown template"))?;
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).map_err(io("chown template data"))?;
    }
    let mut initdb = Command::new(bin.join("initdb"));
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--locale=C",
    ]);
    if let Some((uid, gid)) = owner {
        initdb.uid(uid).gid(gid);
    }
    let output = initdb.output().map_err(io("running initdb"))?;
    if !output.status.success() {
        return Err(PgError::Failed {
            what: "initdb".into(),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    fs::write(&done, b"").map_err(io("marking the template ready"))?;
    Ok(data)
}

/// A name for the template that changes with the server's version.
fn version_tag(bin: &Path) -> String {
    let version = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let digits: String = version
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    format!("{digits}-{}", server_user().map_or(0, |(uid, _)| uid))
}

/// `cp -a FROM TO` (keeps owners and modes; PostgreSQL wants 0700).
fn copy_dir(from: &Path, to: &Path) -> Result<(), PgError> {
    let output = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .map_err(io("running cp"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(PgError::Failed {
            what: format!("cp -a {} {}", from.display(), to.display()),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PgServer;

    #[test]
    fn starts_creates_a_database_restarts_and_cleans_up() {
        // Not skipped where PostgreSQL is missing: `.ci/run` installs it.
        let mut server = PgServer::start().expect("start");
        let url = server.create_database("picket_test").expect("createdb");
        assert!(url.ends_with("/picket_test"), "{url}");
        let pid = server.pid().expect("running");
        server.stop();
        assert!(server.pid().is_none());
        server.start_again().expect("start again");
        assert_ne!(server.pid(), Some(pid));
        // The database survived the restart.
        server
            .create_database("picket_test")
            .expect_err("it exists already");
        let root = server.root.clone();
        drop(server);
        assert!(!root.exists(), "{} left behind", root.display());
    }
}
