//! [`ListenAddrs`]: where a test collector listens, learned without a port
//! race, and [`PortHold`], which keeps those ports between two runs.
//!
//! The first start names `127.0.0.1:0` for both listeners: the collector
//! binds whatever the system gives it and reports the addresses through its
//! `--ports-file` ([`ListenAddrs::read`]). Nothing picks a port and frees it
//! for the child to take, so no other process can take it meanwhile.
//!
//! A restart must bind the same ports again (agents know the collector by
//! URL), so the harness writes them into the config. Between the exit of
//! one run and the bind of the next the ports are free; on Linux a
//! [`PortHold`] closes that gap from the moment the harness reaps the old
//! process: a socket bound with `SO_REUSEADDR` that never listens keeps
//! the port out of every other process's ephemeral picks (`bind(:0)` and
//! `connect`), while the collector's own bind (`SO_REUSEADDR` too, as
//! tokio sets it) still succeeds over it. What is left is the short time
//! between the old process releasing its listeners and the harness
//! reaping it (see [`crate::Collector::stop`]).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;

use anyhow::Context as _;

/// The addresses of a collector's two listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddrs {
    /// `grpc_listen`: agents and picketctl.
    pub grpc: SocketAddr,
    /// `http_listen`: `/readyz`, `/metrics`, the base of `public_url`.
    pub http: SocketAddr,
}

const ANY_LOOPBACK_PORT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

impl ListenAddrs {
    /// `127.0.0.1:0` for both: the collector picks the ports itself.
    pub const ANY_PORT: ListenAddrs = ListenAddrs {
        grpc: ANY_LOOPBACK_PORT,
        http: ANY_LOOPBACK_PORT,
    };

    /// Whether both ports are known (not 0).
    pub fn are_known(&self) -> bool {
        self.grpc.port() != 0 && self.http.port() != 0
    }

    /// Reads a `picket-collector --ports-file`: `None` while the file does
    /// not exist (the collector writes it atomically once both listeners
    /// are bound).
    pub fn read(path: &Path) -> anyhow::Result<Option<ListenAddrs>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("failed to read {}", path.display())),
        };
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("ports file {} is not JSON: {text:?}", path.display()))?;
        let addr = |key: &str| {
            json[key]
                .as_str()
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .with_context(|| format!("ports file {}: no {key} address: {text}", path.display()))
        };
        Ok(Some(ListenAddrs {
            grpc: addr("grpc")?,
            http: addr("http")?,
        }))
    }
}

/// Keeps a stopped collector's ports from being handed to anyone else until
/// it starts again (Linux; elsewhere it holds nothing). Dropping it frees
/// them.
#[derive(Debug)]
pub struct PortHold {
    /// Bound, never listening; closed on drop.
    _sockets: Vec<tokio::net::TcpSocket>,
}

impl PortHold {
    /// Binds both addresses without listening. Best effort: a port that
    /// was taken already is left out, and the next start then fails with
    /// the collector's "failed to listen on …".
    pub fn new(addrs: ListenAddrs) -> PortHold {
        let sockets = if cfg!(target_os = "linux") {
            [addrs.grpc, addrs.http]
                .into_iter()
                .filter_map(|addr| hold(addr).ok())
                .collect()
        } else {
            Vec::new()
        };
        PortHold { _sockets: sockets }
    }
}

fn hold(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_ports_file_and_waits_for_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        assert_eq!(ListenAddrs::read(&path).unwrap(), None);
        std::fs::write(
            &path,
            r#"{"grpc": "127.0.0.1:7070", "http": "127.0.0.1:8080"}"#,
        )
        .unwrap();
        let addrs = ListenAddrs::read(&path).unwrap().expect("read");
        assert_eq!(addrs.grpc, "127.0.0.1:7070".parse().unwrap());
        assert_eq!(addrs.http, "127.0.0.1:8080".parse().unwrap());
        assert!(addrs.are_known());
        assert!(!ListenAddrs::ANY_PORT.are_known());
        std::fs::write(&path, r#"{"grpc": "127.0.0.1:7070"}"#).unwrap();
        let err = ListenAddrs::read(&path).unwrap_err().to_string();
        assert!(err.contains("no http address"), "{err}");
    }

    /// What the restarts rely on: a held port is taken for a socket that
    /// does not ask to share it, yet a listener binding it by number (as
    /// the collector does, with `SO_REUSEADDR`) gets it.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_held_port_is_kept_from_others_but_not_from_the_collector() {
        let held = hold(ANY_LOOPBACK_PORT).unwrap();
        let addr = held.local_addr().unwrap();
        let hold = PortHold::new(ListenAddrs {
            grpc: addr,
            http: addr,
        });
        assert_eq!(hold._sockets.len(), 2, "the port was not held");
        let other = tokio::net::TcpSocket::new_v4().unwrap();
        assert!(
            other.bind(addr).is_err(),
            "another socket got the held port"
        );
        let collector = tokio::net::TcpListener::bind(addr).await;
        assert!(
            collector.is_ok(),
            "the collector's bind failed: {collector:?}"
        );
    }
}
