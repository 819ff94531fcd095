//! The end-to-end harness: drives the real `picket-collector`, `picket-agent`
//! and `picketctl` binaries against real loopback HTTP(S) targets.
//!
//! # Layout
//!
//! - [`config`]: [`Config`], a builder for the collector's `picket.toml`
//!   (fast defaults for tests), or raw TOML with `{placeholders}`.
//! - [`collector`]: [`Collector`], a running `picket-collector` in its own
//!   temp dir on loopback ports it picked itself, ready once `/readyz`
//!   answers 200.
//! - [`ctl`](mod@ctl): [`ctl()`] / [`ctl_raw`] over `picketctl --json`, and the
//!   collector's predicate waits on services, requests and agents.
//! - [`ports`]: how the harness learns those ports (`--ports-file`) and
//!   keeps them for a restart.
//! - [`agent`]: [`Agent`], a running `picket-agent` with its own state dir.
//! - [`pki`]: certificates for TLS collectors (rcgen), the TLS flags of
//!   clients; [`status`]: `GET` → status over HTTP or HTTPS.
//! - [`wait`]: [`wait_until`], the only way tests wait: a predicate polled
//!   until a deadline; the timeout error names what never happened, the last
//!   value observed and the tails of every live process log.
//! - [`target`]: controllable HTTP(S) targets (status, body, hang, TLS modes).
//! - [`webhook_sink`]: [`WebhookSink`], a real HTTP receiver recording every
//!   delivery, with event-driven [`WebhookSink::await_delivery`].
//!
//! **Invariant**: nothing here pins a port, picks one for a child by
//! binding and freeing it, or sleeps hoping something happened; every child process is killed when its guard drops, and a
//! guard dropped during a panic prints its log tail to stderr.
//!
//! **Boundary**: the binaries are found next to the test executable
//! (`target/debug`), built by `cargo build --workspace --bins`; the harness
//! never builds them itself.

pub mod agent;
pub mod collector;
pub mod config;
pub mod ctl;
pub mod follow;
pub mod inproc;
pub mod pki;
pub mod ports;
pub mod status;
pub mod target;
pub mod wait;
pub mod webhook_sink;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

pub use agent::{Agent, AgentOptions};
pub use collector::Collector;
pub use config::{Config, Service, Webhook};
pub use ctl::{CtlOutput, ctl, ctl_raw};
pub use wait::{Observation, Seen, wait_until};
pub use webhook_sink::{Delivery, Reply, WebhookSink};

/// Admin bearer token every test collector is configured with.
pub const ADMIN_TOKEN: &str = "e2e-admin-token";
/// Enrollment token every test collector accepts and every test agent sends.
pub const ENROLLMENT_TOKEN: &str = "e2e-enroll-token";
/// Default deadline for "this should happen soon" waits: generous enough for
/// a loaded 2-core CI, still far below a test runner's timeout.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// Log filter handed to both binaries through `PICKET_LOG`.
pub const LOG_FILTER: &str = "info,picket=debug";

/// The filter the binaries this test starts from now on get, instead of
/// [`LOG_FILTER`] (nextest runs each test in its own process).
static LOG_FILTER_OVERRIDE: Mutex<Option<String>> = Mutex::new(None);

/// Starts the binaries of this test with the log `filter` (e.g. `debug`
/// for every crate, as the secrets test greps).
pub fn set_log_filter(filter: &str) {
    *LOG_FILTER_OVERRIDE
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(filter.to_owned());
}

fn log_filter() -> String {
    LOG_FILTER_OVERRIDE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| LOG_FILTER.to_owned())
}

/// Path of one of the workspace binaries, found next to the running test
/// executable (`target/debug/deps/e2e-…` → `target/debug/NAME`).
///
/// `PICKET_E2E_BIN_DIR` overrides the directory. Fails with a message naming
/// the missing binary and the command that builds it.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("PICKET_E2E_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe()?;
            let mut dir = exe
                .parent()
                .ok_or_else(|| anyhow::anyhow!("test executable {} has no parent", exe.display()))?
                .to_path_buf();
            if dir.ends_with("deps") {
                dir.pop();
            }
            dir
        }
    };
    let path = dir.join(name);
    if !path.is_file() {
        anyhow::bail!(
            "binary {name} not found at {}: build the binaries first with \
             `cargo build --workspace --bins` (or set PICKET_E2E_BIN_DIR)",
            path.display()
        );
    }
    Ok(path)
}

/// Spawns `binary` (one of ours) with `args` in `dir`, stdout and stderr
/// appended to `log` after a `marker` line, at the harness's log filter.
pub(crate) fn spawn_logged<I, S>(
    binary: &str,
    args: I,
    dir: &Path,
    log: &Path,
    marker: &str,
) -> anyhow::Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("failed to open {}", log.display()))?;
    writeln!(file, "===== picket-e2e: {marker} =====")?;
    Command::new(crate::binary(binary)?)
        .args(args)
        .current_dir(dir)
        .env("PICKET_LOG", log_filter())
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("failed to spawn {binary}"))
}

/// Parses an RFC 3339 time as the collector prints it (`picketctl --json`,
/// webhook bodies). `None` for JSON null, a non-string or a malformed time.
pub fn parse_time(value: &serde_json::Value) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(value.as_str()?).ok()
}

/// Whether a temp dir should outlive its test (`PICKET_E2E_KEEP=1`), to read
/// the logs and the database after a failure.
pub(crate) fn keep_dirs() -> bool {
    std::env::var_os("PICKET_E2E_KEEP").is_some_and(|v| v != "0")
}

/// Creates a temp dir for one process guard, kept on disk when
/// `PICKET_E2E_KEEP` is set (its path is printed then).
pub(crate) fn temp_dir(prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    let mut dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    if keep_dirs() {
        dir.disable_cleanup(true);
        eprintln!("picket-e2e: keeping {}", dir.path().display());
    }
    Ok(dir)
}

// ---------------------------------------------------------------------------
// Log registry: every live process guard registers its log file, so that any
// failure (a wait that timed out, a failing picketctl) can show all of them.
// nextest runs each test in its own process, so the registry holds exactly
// the current test's processes.

static NEXT_LOG_ID: AtomicU64 = AtomicU64::new(0);
static LOGS: Mutex<Vec<(u64, String, PathBuf)>> = Mutex::new(Vec::new());

/// Lines of each log shown in a failure message.
const TAIL_LINES: usize = 40;

/// Keeps a log file in the registry while it is alive.
#[derive(Debug)]
pub(crate) struct LogRegistration {
    id: u64,
}

impl LogRegistration {
    pub(crate) fn new(label: String, path: PathBuf) -> LogRegistration {
        let id = NEXT_LOG_ID.fetch_add(1, Ordering::Relaxed);
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, label, path));
        LogRegistration { id }
    }
}

impl Drop for LogRegistration {
    fn drop(&mut self) {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _, _)| *id != self.id);
    }
}

/// The last `lines` lines of a file (a note if it cannot be read).
pub fn file_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// The tails of the logs of every live collector and agent of this test.
pub fn log_tails() -> String {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if logs.is_empty() {
        return String::from("(no live picket processes)");
    }
    let mut out = String::new();
    for (_, label, path) in logs {
        out.push_str(&format!(
            "\n----- {label}: last {TAIL_LINES} lines of {} -----\n{}\n",
            path.display(),
            file_tail(&path, TAIL_LINES)
        ));
    }
    out
}

/// Adds the process log tails to an error, for failures that did not come
/// from the harness itself (e.g. a target helper's wait).
pub trait WithLogs<T> {
    fn with_logs(self) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> WithLogs<T> for Result<T, E> {
    fn with_logs(self) -> anyhow::Result<T> {
        self.map_err(|e| {
            let e: anyhow::Error = e.into();
            e.context(format!("process logs:{}", log_tails()))
        })
    }
}

/// Line number (1-based) of the first line of `text` containing `needle`;
/// tests use it to compute the line a config error must point at.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} does not occur in the text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_is_one_based() {
        assert_eq!(line_of("a\nb = 1\nc", "b ="), 2);
        assert_eq!(line_of("x", "x"), 1);
    }

    #[test]
    fn parse_time_reads_rfc3339_and_rejects_the_rest() {
        let t = parse_time(&serde_json::json!("2026-01-02T03:04:05Z")).expect("parses");
        let t2 = parse_time(&serde_json::json!("2026-01-02T03:04:05.5Z")).expect("parses");
        assert!(t2 > t);
        assert!(parse_time(&serde_json::Value::Null).is_none());
        assert!(parse_time(&serde_json::json!("yesterday")).is_none());
    }

    #[test]
    fn missing_binary_is_named_with_the_build_command() {
        let err = binary("no-such-picket-binary").unwrap_err().to_string();
        assert!(err.contains("no-such-picket-binary"), "{err}");
        assert!(err.contains("cargo build --workspace --bins"), "{err}");
    }

    #[test]
    fn file_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "1\n2\n3\n4\n").unwrap();
        assert_eq!(file_tail(&path, 2), "3\n4");
        assert_eq!(file_tail(&path, 10), "1\n2\n3\n4");
    }
}
