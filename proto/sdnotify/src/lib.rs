//! systemd's notify protocol, by hand: one datagram of `KEY=VALUE` lines to
//! the unix socket named by `NOTIFY_SOCKET` (a path, or an abstract name
//! when it starts with `@`), as `sd_notify(3)` describes. Without
//! `NOTIFY_SOCKET` (not under systemd, or `Type=simple`) every call is a
//! no-op. [`watchdog`] feeds `WATCHDOG=1` at half of `WATCHDOG_USEC`, but
//! only while the caller's health check passes, so that systemd restarts a
//! process whose actors stopped answering.

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager's notify socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// The notifier named by `NOTIFY_SOCKET`, or `None` when it is unset
    /// or empty.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(name) if !name.is_empty() => Notifier::new(&name).map(Some),
            _ => Ok(None),
        }
    }

    /// A notifier sending to `name`: a socket path, or `@name` for an
    /// abstract socket.
    pub fn new(name: &OsStr) -> io::Result<Notifier> {
        let addr = address(name)?;
        let socket = UnixDatagram::unbound()?;
        Ok(Notifier { socket, addr })
    }

    /// Sends `state` (newline-separated `KEY=VALUE` assignments).
    pub fn send(&self, state: &str) -> io::Result<()> {
        let sent = self.socket.send_to_addr(state.as_bytes(), &self.addr)?;
        if sent != state.len() {
            return Err(io::Error::other("notify datagram truncated"));
        }
        Ok(())
    }

    /// `READY=1`, with a human-readable `STATUS=`.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    /// `WATCHDOG=1`: the service is alive.
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }
}

#[cfg(target_os = "linux")]
fn address(name: &OsStr) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    match name.as_bytes().strip_prefix(b"@") {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name),
        None => SocketAddr::from_pathname(name),
    }
}

#[cfg(not(target_os = "linux"))]
fn address(name: &OsStr) -> io::Result<SocketAddr> {
    SocketAddr::from_pathname(name)
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC` (when set and,
/// if `WATCHDOG_PID` is set, meant for this process).
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.trim() != std::process::id().to_string()
    {
        return None;
    }
    interval_from(&usec)
}

fn interval_from(usec: &str) -> Option<Duration> {
    let usec: u64 = usec.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec) / 2)
}

/// Sends `WATCHDOG=1` every `every`, each time `healthy()` answers `true`
/// within `every`; runs until dropped. A failing check is logged once per
/// change and not fed, so systemd's `WatchdogSec` restarts the service.
pub async fn watchdog<F, Fut>(notifier: Notifier, every: Duration, mut healthy: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_healthy = true;
    loop {
        ticks.tick().await;
        let ok = tokio::time::timeout(every, healthy())
            .await
            .unwrap_or(false);
        if ok {
            if let Err(e) = notifier.watchdog() {
                tracing::warn!(error = %e, "cannot notify the systemd watchdog");
            }
        } else if was_healthy {
            tracing::error!("health check failed: not feeding the systemd watchdog");
        }
        was_healthy = ok;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn ready_reaches_a_socket_named_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(path.as_os_str()).unwrap();
        notifier.ready("listening on\n127.0.0.1:7070").unwrap();
        assert_eq!(
            receive(&socket),
            "READY=1\nSTATUS=listening on 127.0.0.1:7070"
        );
        notifier.watchdog().unwrap();
        assert_eq!(receive(&socket), "WATCHDOG=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_at_sign_names_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("picket-sdnotify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        let notifier = Notifier::new(OsStr::new(&format!("@{name}"))).unwrap();
        notifier.stopping().unwrap();
        assert_eq!(receive(&socket), "STOPPING=1");
    }

    #[test]
    fn the_watchdog_interval_is_half_of_watchdog_usec() {
        assert_eq!(interval_from("30000000"), Some(Duration::from_secs(15)));
        assert_eq!(interval_from("0"), None);
        assert_eq!(interval_from("soon"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_is_fed_only_while_healthy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        let notifier = Notifier::new(path.as_os_str()).unwrap();
        let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = healthy.clone();
        let feeder = tokio::spawn(watchdog(notifier, Duration::from_secs(1), move || {
            let ok = flag.load(std::sync::atomic::Ordering::SeqCst);
            async move { ok }
        }));
        let count = |socket: &UnixDatagram| {
            let mut buf = [0u8; 64];
            std::iter::from_fn(|| socket.recv(&mut buf).ok()).count()
        };
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(count(&socket), 3, "ticks at 0 s, 1 s and 2 s");
        healthy.store(false, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(count(&socket), 0, "fed while the check fails");
        feeder.abort();
    }
}
